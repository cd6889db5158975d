/**
 * How full the filesystem holding a path is, by statfs. "Free" is what an unprivileged process can
 * still write (`bavail`, as `df` counts it): the blocks reserved for root do not count as free, so
 * a filesystem is 100 % used when ordinary writes start to fail.
 */
import { statfs } from 'node:fs/promises'

export interface FilesystemUsage {
  /** Size of the filesystem, in bytes. */
  sizeBytes: number
  /** Bytes an unprivileged process can still write. */
  freeBytes: number
  /** 100 × (1 − free / size); 0 for a filesystem without blocks (proc, sysfs...). Not rounded. */
  usedPercent: number
}

/** The usage of the filesystem holding `p`; rejects as statfs does (ENOENT, EACCES...). */
export async function filesystemUsage(p: string): Promise<FilesystemUsage> {
  const s = await statfs(p)
  const sizeBytes = s.blocks * s.bsize
  const freeBytes = s.bavail * s.bsize
  return { sizeBytes, freeBytes, usedPercent: s.blocks > 0 ? 100 * (1 - s.bavail / s.blocks) : 0 }
}

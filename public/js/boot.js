/*
 * The dashboard's watchdog for its own loading: a classic script, run before the ES modules, so it
 * works when they do not. If a module file fails to arrive (a dropped connection, a proxy's error),
 * the browser runs none of the module graph and the page would stay blank with no sign-in form. This
 * notices that (the main module marks the page ready when it starts), says which file failed, and
 * loads the page again by itself a few times before leaving a button to the user.
 */
;(function () {
  'use strict'
  var RETRIES_KEY = 'sentinel.bootRetries'
  var MAX_RETRIES = 3
  var RETRY_MS = 3000
  var failed = []

  // Load errors of elements do not bubble, but they are seen on the way down (capture).
  window.addEventListener(
    'error',
    function (e) {
      var t = e.target
      if (t && t !== window && t.tagName === 'SCRIPT' && t.src) failed.push(new URL(t.src).pathname)
    },
    true,
  )

  function retries() {
    try {
      return Number(sessionStorage.getItem(RETRIES_KEY) || 0)
    } catch (_) {
      return MAX_RETRIES
    }
  }

  window.addEventListener('load', function () {
    var root = document.documentElement
    // Ready: the main module started and no module file failed (each script tag's graph is separate).
    if (root.dataset.ready === 'yes' && failed.length === 0) {
      try {
        sessionStorage.removeItem(RETRIES_KEY)
      } catch (_) {}
      return
    }
    root.dataset.boot = 'failed'
    var box = document.getElementById('boot-error')
    var text = document.getElementById('boot-error-text')
    var n = retries()
    var what = failed.length ? failed.join(', ') : 'a script'
    if (text) {
      text.textContent =
        'The console could not load (' +
        what +
        ' did not arrive). ' +
        (n < MAX_RETRIES ? 'Reloading…' : 'Reload to try again.')
    }
    if (box) box.hidden = false
    if (n < MAX_RETRIES) {
      try {
        sessionStorage.setItem(RETRIES_KEY, String(n + 1))
      } catch (_) {}
      setTimeout(function () {
        location.reload()
      }, RETRY_MS)
    }
  })

  document.addEventListener('DOMContentLoaded', function () {
    var button = document.getElementById('boot-reload')
    if (button)
      button.addEventListener('click', function () {
        location.reload()
      })
  })
})()

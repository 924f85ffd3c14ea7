// Checks, in the reader's own browser, that each read listed on the
// access page is in the audit log: the read's canonical encoding is
// hashed into its RFC 6962 leaf, the inclusion proof is folded up to a
// root (RFC 9162, section 2.1.3.2), and that root must be the root of the
// signed checkpoint shown on the page. Nothing is sent anywhere.
(function () {
  "use strict";
  var list = document.getElementById("access");
  if (!list || !window.crypto || !window.crypto.subtle) { return; }
  function bytes(b64) {
    var s = atob(b64), out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) { out[i] = s.charCodeAt(i); }
    return out;
  }
  function join(prefix, a, b) {
    var out = new Uint8Array(1 + a.length + (b ? b.length : 0));
    out[0] = prefix; out.set(a, 1);
    if (b) { out.set(b, 1 + a.length); }
    return out;
  }
  function sha256(data) {
    return window.crypto.subtle.digest("SHA-256", data).then(function (h) { return new Uint8Array(h); });
  }
  function equal(a, b) {
    if (a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i++) { if (a[i] !== b[i]) { return false; } }
    return true;
  }
  // verify resolves to true when leaf (the canonical bytes) is entry index
  // of the tree of size entries whose root is root.
  async function verify(index, size, leaf, path, root) {
    if (index >= size) { return false; }
    var fn = index, sn = size - 1;
    var r = await sha256(join(0, leaf));
    for (var i = 0; i < path.length; i++) {
      var p = path[i];
      if (sn === 0) { return false; }
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(join(1, p, r));
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha256(join(1, r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(r, root);
  }
  var root = bytes(list.getAttribute("data-root") || "");
  var items = list.querySelectorAll("li[data-leaf]");
  Array.prototype.forEach.call(items, function (li) {
    var status = li.querySelector(".proof");
    var path = (li.getAttribute("data-path") || "").split(",").filter(Boolean).map(bytes);
    verify(Number(li.getAttribute("data-index")), Number(li.getAttribute("data-size")), bytes(li.getAttribute("data-leaf")), path, root)
      .then(function (ok) { return ok; }, function () { return false; })
      .then(function (ok) {
        li.setAttribute("data-proof", ok ? "ok" : "bad");
        if (status) { status.textContent = list.getAttribute(ok ? "data-ok" : "data-bad"); }
      });
  });
})();

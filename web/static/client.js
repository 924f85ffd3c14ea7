// The client pages' script: passkeys (WebAuthn) and the letter's print
// button. The pages work without it, with a passphrase; the passkey
// buttons show only where the browser has passkeys.
(function () {
  "use strict";

  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: b64urlToBuf(c.id) }); });
  }

  // creationOptions and requestOptions turn the server's JSON (base64url
  // strings) into what navigator.credentials expects (ArrayBuffers).
  function creationOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = b64urlToBuf(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: b64urlToBuf(pk.user.id) });
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = b64urlToBuf(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    return { publicKey: pk, mediation: o.mediation || "optional" };
  }

  function credentialJSON(c) {
    var r = c.response, out = { id: c.id, rawId: bufToB64url(c.rawId), type: c.type, response: { clientDataJSON: bufToB64url(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bufToB64url(r.authenticatorData);
      out.response.signature = bufToB64url(r.signature);
      if (r.userHandle) out.response.userHandle = bufToB64url(r.userHandle);
    }
    out.clientExtensionResults = c.getClientExtensionResults ? c.getClientExtensionResults() : {};
    return out;
  }

  function post(url, body) {
    var meta = document.querySelector('meta[name="csrf"]');
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": meta ? meta.content : "" },
      body: body ? JSON.stringify(body) : "{}"
    }).then(function (res) {
      return res.json().then(function (j) {
        if (!res.ok) throw new Error(j.detail || "");
        return j;
      });
    });
  }

  function run(button) {
    var card = button.closest("section") || document, kind = button.getAttribute("data-passkey");
    var errorBox = card.querySelector("[data-passkey-error]"), status = card.querySelector("[data-passkey-status]");
    errorBox.hidden = true;
    status.hidden = false;
    button.disabled = true;
    var base = "/client/passkey/" + kind;
    post(base + "/begin").then(function (opts) {
      return kind === "register" ? navigator.credentials.create(creationOptions(opts)) : navigator.credentials.get(requestOptions(opts));
    }).then(function (cred) {
      return post(base + "/finish", credentialJSON(cred));
    }).then(function (res) {
      window.location.assign(res.next || "/client");
    }).catch(function (err) {
      status.hidden = true;
      button.disabled = false;
      errorBox.textContent = (err && err.message && err.name === "Error") ? err.message : button.getAttribute("data-failed");
      errorBox.hidden = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var can = !!(window.PublicKeyCredential && navigator.credentials && window.fetch);
    document.querySelectorAll("[data-passkey-only]").forEach(function (el) { el.hidden = !can; });
    document.querySelectorAll("[data-passkey-none]").forEach(function (el) { el.hidden = can; });
    document.querySelectorAll("[data-passkey]").forEach(function (b) {
      b.addEventListener("click", function () { run(b); });
    });
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  });
})();

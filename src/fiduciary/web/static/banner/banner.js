/*! Fiduciary cookie banner. No dependency. How it works and how to embed it: docs/banner.md */
(function (w, d) {
  "use strict";
  var me = d.currentScript, base = new URL(me.src, location.href).origin, NAME = "fiduciary_consent";
  var SIGNALS = ["ad_storage", "ad_user_data", "ad_personalization", "analytics_storage"];
  var gpc = w.navigator.globalPrivacyControl === true, cfg, T, box, back, stored, layer;
  // The fixed wording comes in the page's language (else the browser's): /v1/banner/config?lang=…
  var lang = d.documentElement.lang || w.navigator.language || "";

  // Google Consent Mode v2: everything denied before any tag can run (this script is loaded first).
  w.dataLayer = w.dataLayer || [];
  if (typeof w.gtag != "function") w.gtag = function () { w.dataLayer.push(arguments); };
  function signals(cats) {
    var o = {};
    SIGNALS.forEach(function (s) { o[s] = "denied"; });
    if (cats) cfg.categories.forEach(function (c) {
      if (on(cats, c)) c.consent_mode.forEach(function (s) { o[s] = "granted"; });
    });
    return o;
  }
  w.gtag("consent", "default", signals());

  function on(cats, c) { return !c.optional || cats.indexOf(c.id) >= 0; }
  function el(tag, attrs, kids) {
    var e = d.createElement(tag), k;
    for (k in attrs || {}) e.setAttribute(k, attrs[k]);
    (kids || []).forEach(function (x) { if (x) e.append(x); });
    return e;
  }
  function read() {
    var m = d.cookie.match(new RegExp("(?:^|; )" + NAME + "=([^;]*)")), p;
    if (!m) return null;
    p = m[1].split(".");
    return p.length == 4 ? { id: p[0], v: +p[1], t: +p[2], c: p[3] ? p[3].split("-") : [] } : null;
  }
  function write(s) {
    d.cookie = NAME + "=" + [s.id, s.v, s.t, s.c.join("-")].join(".") + "; Path=/; Max-Age=" +
      cfg.ask_again_after_days * 86400 + "; SameSite=Lax" + (location.protocol == "https:" ? "; Secure" : "");
  }
  function current(s) {
    return s && s.v >= cfg.min_version && Date.now() / 1000 - s.t < cfg.ask_again_after_days * 86400;
  }
  function forget(name) {
    var host = location.hostname.split("."), names = [name], i;
    if (name.slice(-1) == "*") names = d.cookie.split("; ").map(function (x) { return x.split("=")[0]; })
      .filter(function (x) { return x.indexOf(name.slice(0, -1)) == 0; });
    names.forEach(function (n) {
      d.cookie = n + "=; Max-Age=0; Path=/";
      for (i = 0; i < host.length - 1; i++) d.cookie = n + "=; Max-Age=0; Path=/; Domain=" + host.slice(i).join(".");
    });
  }
  // Tags marked type="text/plain" data-category="…" run, and iframes with data-src load, only once their
  // category is accepted; a refused category's first-party cookies named in the policy are deleted.
  // GPC wins over a category that sells, shares or targets, even one accepted before the signal was on.
  function honour(cats) {
    return gpc ? cats.filter(function (id) { return !cfg.categories.some(function (c) { return c.id == id && c.gpc; }); }) : cats;
  }
  function apply(cats) {
    cats = honour(cats);
    w.gtag("consent", "update", signals(cats));
    cfg.categories.forEach(function (c) {
      if (on(cats, c)) return;
      c.cookies.forEach(function (k) { if (k.party == "first") forget(k.name); });
    });
    var ok = function (n) { return cfg.categories.some(function (c) { return c.id == n && on(cats, c); }); };
    d.querySelectorAll('script[type="text/plain"][data-category]').forEach(function (o) {
      if (!ok(o.dataset.category)) return;
      var s = d.createElement("script");
      [].forEach.call(o.attributes, function (a) { if (a.name != "type") s.setAttribute(a.name, a.value); });
      if (o.dataset.type) s.type = o.dataset.type;
      s.nonce = o.nonce;
      s.async = false;
      s.text = o.text;
      o.replaceWith(s);
    });
    d.querySelectorAll("iframe[data-src][data-category]").forEach(function (f) {
      if (ok(f.dataset.category)) { f.src = f.dataset.src; f.removeAttribute("data-src"); }
    });
  }
  function choose(cats) {
    var prev = stored ? stored.c : [], id = (read() || stored || {}).id || "", grant = {}, actions = [], p;
    cats = honour(cats);
    cfg.categories.forEach(function (c) {
      if (c.optional) c.purposes.forEach(function (p) { grant[p] = (grant[p] !== false) && on(cats, c); });
    });
    for (p in grant) {
      var had = cfg.categories.some(function (c) { return c.purposes.indexOf(p) >= 0 && prev.indexOf(c.id) >= 0; });
      actions.push({ purpose: p, action: grant[p] ? "grant" : had ? "withdraw" : "deny" });
    }
    stored = { id: id, v: cfg.version, t: Math.floor(Date.now() / 1000), c: cats };
    write(stored);
    close();
    apply(cats);
    if (actions.length) w.fetch(base + "/v1/banner/consents", {
      method: "POST", keepalive: true, headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ visitor_id: stored.id || undefined, policy_version: cfg.version, language: cfg.lang, actions: actions })
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (j) {
      if (j && j.visitor_id && !stored.id) { stored.id = j.visitor_id; write(stored); }
    }).catch(function () {});
  }
  function buttons(extra) {
    var all = cfg.categories.filter(function (c) { return c.optional; }).map(function (c) { return c.id; });
    var b = function (label, fn) { var x = el("button", { type: "button", "class": "fdy-btn" }, [label]); x.onclick = fn; return x; };
    return el("div", { "class": "fdy-actions" }, [
      b(T.accept, function () { choose(all); }), b(T.reject, function () { choose([]); }), extra(b)]);
  }
  function gpcNote() { return gpc && T.gpc ? el("p", { "class": "fdy-gpc" }, [T.gpc]) : null; }
  function first() {
    return [el("h2", { id: "fdy-title" }, [T.title]),
      el("p", { id: "fdy-desc" }, [T.intro + " ", el("a", { href: base + "/privacy?lang=" + cfg.lang }, [T.notice])]),
      gpcNote(), buttons(function (b) { return b(T.customise, second); })];
  }
  function second() {
    var kids = [el("h2", { id: "fdy-title" }, [T.choose]), gpcNote()], chosen = current(stored) ? stored.c : [];
    cfg.categories.forEach(function (c) {
      var id = "fdy-c-" + c.id, head, cb;
      if (c.optional) {
        cb = el("input", { type: "checkbox", id: id, name: c.id });
        cb.checked = chosen.indexOf(c.id) >= 0 && !(gpc && c.gpc);
        cb.disabled = gpc && c.gpc;
        head = el("label", { "for": id }, [cb, " " + c.name]);
      } else head = el("span", { "class": "fdy-on" }, [c.name + " (" + T.always_on + ")"]);
      kids.push(el("section", { "class": "fdy-cat", "aria-label": c.name }, [
        el("h3", {}, [head]), el("p", {}, [c.text]),
        el("ul", { lang: cfg.language }, c.uses.map(function (u) { return el("li", {}, [u.name + ": " + u.description]); })),
        el("details", {}, [el("summary", {}, [T.cookies + " (" + c.cookies.length + ")"]),
          el("ul", { lang: cfg.language }, c.cookies.map(function (k) {
            return el("li", {}, [k.name + " (" + k.provider + ", " + k.lifetime + "): " + k.description]);
          }))])]));
    });
    kids.push(buttons(function (b) {
      return b(T.save, function () {
        choose([].map.call(box.querySelectorAll("input:checked"), function (i) { return i.name; }));
      });
    }));
    show(kids, 2);
  }
  function focusables() {
    return [].filter.call(box.querySelectorAll("a[href],button,input:not([disabled]),summary"), function (e) {
      return e.offsetParent !== null;
    });
  }
  function show(kids, n) {
    if (!box) {
      back = d.activeElement;
      box = el("div", { "class": "fdy", lang: cfg.lang, role: "dialog", "aria-modal": "true", "aria-labelledby": "fdy-title" });
      box.addEventListener("keydown", function (e) {
        var f = focusables(), a = f[0], z = f[f.length - 1];
        if (e.key == "Tab" && (e.shiftKey ? d.activeElement == a : d.activeElement == z)) {
          (e.shiftKey ? z : a).focus();
          e.preventDefault();
        } else if (e.key == "Escape" && layer == 2) show(first(), 1);
      });
      d.body.append(box);
    }
    layer = n;
    box.replaceChildren.apply(box, kids.filter(Boolean));
    if (n == 1) box.setAttribute("aria-describedby", "fdy-desc"); else box.removeAttribute("aria-describedby");
    (box.querySelector("input:not([disabled]),button") || focusables()[0]).focus();
    if (w.performance && performance.mark) performance.mark("fiduciary-banner-visible");
  }
  function close() {
    if (!box) return;
    box.remove();
    box = null;
    if (back && back.focus && back != d.body) back.focus();
  }
  d.addEventListener("focusin", function (e) { if (box && !box.contains(e.target)) focusables()[0].focus(); });
  d.addEventListener("click", function (e) {
    var t = e.target.closest && e.target.closest("[data-fiduciary-settings]");
    if (t && cfg) { e.preventDefault(); show(first(), 1); }
  });
  lang = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(lang) && lang.length < 36 ? "?lang=" + lang : "";
  w.fetch(base + "/v1/banner/config" + lang).then(function (r) { return r.json(); }).then(function (c) {
    cfg = c;
    T = c.text;
    var link = el("link", { rel: "stylesheet", href: base + "/banner.css?v=" + c.css });
    var start = function () {
      stored = read();
      if (current(stored)) apply(stored.c);
      else link.onload = link.onerror = function () { show(first(), 1); };
      d.head.append(link);
    };
    if (d.readyState == "loading") d.addEventListener("DOMContentLoaded", start); else start();
  });
  w.fiduciaryBanner = { open: function () { if (cfg) show(first(), 1); } };
})(window, document);

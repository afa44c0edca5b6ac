/* 亲情医保 — behaviour shared by every page (loaded with defer from base.html).
 * Plain ES2017, no modules, no dependencies, no inline script (the CSP forbids it).
 *   (a) .app-toast flash messages remove themselves after 2.5 s
 *   (b) <form data-confirm="…"> asks window.confirm() before submitting
 *   (c) button[data-copy="…"] copies its text to the clipboard and toasts "已复制"
 *   (d) <form data-loading> disables its submit button while submitting (no double submits);
 *       the button shows its data-loading-text, or "提交中…"
 *   (e) after a tap on a link or a submit, a WeUI loading toast when the next page is slow
 *   (f) an input/select with data-autosubmit submits its form on change (e.g. the 长辈模式 switch)
 */
(function () {
  "use strict";

  var TOAST_MS = 2500;

  /* ------------------------------------------------------------ (a) toasts */
  function scheduleRemoval(toast) {
    if (toast.dataset.appToastTimer) return;
    toast.dataset.appToastTimer = "1";
    window.setTimeout(function () {
      if (toast.parentNode) toast.parentNode.removeChild(toast);
    }, TOAST_MS);
  }

  function showToast(message, kind) {
    var toast = document.createElement("div");
    toast.className = "app-toast" + (kind ? " app-toast_" + kind : "");
    toast.setAttribute("role", "status");
    toast.setAttribute("aria-live", "polite");
    toast.textContent = message;
    document.body.appendChild(toast);
    scheduleRemoval(toast);
    return toast;
  }

  Array.prototype.forEach.call(document.querySelectorAll(".app-toast"), scheduleRemoval);

  /* Other scripts may use it: window.appToast("已保存", "success"). */
  window.appToast = showToast;

  /* -------------------------------------------- (b) confirm + (d) loading */
  function submitButtonOf(form, event) {
    if (event && event.submitter) return event.submitter;
    return form.querySelector("button[type=submit], button:not([type]), input[type=submit]");
  }

  function setButtonText(button, text) {
    if (button.tagName === "INPUT") button.value = text;
    else button.textContent = text;
  }

  function buttonText(button) {
    return button.tagName === "INPUT" ? button.value : button.textContent;
  }

  function restoreForm(form) {
    delete form.dataset.appSubmitting;
    Array.prototype.forEach.call(form.querySelectorAll("[data-app-original-text]"), function (button) {
      setButtonText(button, button.dataset.appOriginalText);
      delete button.dataset.appOriginalText;
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;

    if (form.hasAttribute("data-loading") && form.dataset.appSubmitting) {
      event.preventDefault();           // already on its way: a second tap does nothing
      return;
    }

    var message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      return;
    }

    if (!form.hasAttribute("data-loading") || event.defaultPrevented) return;
    var button = submitButtonOf(form, event);
    form.dataset.appSubmitting = "1";
    if (!button) return;
    /* Disable on the next tick: a disabled submitter would drop its name=value from the
     * submitted data, and the browser collects that data right after this event. */
    window.setTimeout(function () {
      if (!form.dataset.appSubmitting) return;
      button.dataset.appOriginalText = buttonText(button);
      setButtonText(button, button.getAttribute("data-loading-text") || "提交中…");
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }, 0);
    /* A form that opens elsewhere (target=_blank, a download) leaves this page in place. */
    if (form.target && form.target !== "_self") {
      window.setTimeout(function () { restoreForm(form); }, 8000);
    }
  });

  /* Coming back with the back button restores the page from the cache: re-enable the forms. */
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    Array.prototype.forEach.call(document.querySelectorAll("form[data-loading]"), restoreForm);
  });

  /* ------------------------------------------------------------- (c) copy */
  function copyWithTextarea(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "app-copy-buffer";   // kept off screen by app.css
    document.body.appendChild(area);
    var selection = document.getSelection();
    var previous = selection && selection.rangeCount ? selection.getRangeAt(0) : null;
    area.select();
    area.setSelectionRange(0, text.length);
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    if (previous && selection) {
      selection.removeAllRanges();
      selection.addRange(previous);
    }
    return ok;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        function () { return true; },
        function () { return copyWithTextarea(text); }
      );
    }
    return Promise.resolve(copyWithTextarea(text));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    event.preventDefault();
    copyText(button.getAttribute("data-copy") || "").then(function (ok) {
      if (ok) showToast("已复制", "success");
      else showToast("复制失败，请长按文字手动复制", "error");
    });
  });

  /* ------------------------------------------------- (e) loading indicator */
  /* After a tap on a link or a submit, a WeUI loading toast if the next page has not come
   * within LOADING_MS (slow networks); the back arrow is a plain link to the flow's parent. */
  var LOADING_MS = 300;
  var loadingTimer = null;

  function showLoading() {
    if (document.querySelector(".app-loading")) return;
    var wrap = document.createElement("div");
    wrap.className = "app-loading";
    wrap.setAttribute("role", "status");
    wrap.setAttribute("aria-live", "polite");
    wrap.innerHTML = '<div class="weui-mask_transparent"></div><div class="weui-toast">' +
      '<span class="weui-primary-loading weui-primary-loading_transparent weui-icon_toast"><span class="weui-primary-loading__dot"></span></span>' +
      '<p class="weui-toast__content">加载中</p></div>';
    document.body.appendChild(wrap);
  }

  function hideLoading() {
    window.clearTimeout(loadingTimer);
    loadingTimer = null;
    Array.prototype.forEach.call(document.querySelectorAll(".app-loading"), function (el) {
      el.parentNode.removeChild(el);
    });
  }

  function soon() {
    window.clearTimeout(loadingTimer);
    loadingTimer = window.setTimeout(showLoading, LOADING_MS);
  }
  window.appLoading = { show: showLoading, hide: hideLoading };

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link || link.target && link.target !== "_self" || link.hasAttribute("download")) return;
    if (link.hasAttribute("data-no-loading")) return;
    var url;
    try { url = new URL(link.href, window.location.href); } catch (e) { return; }
    if (url.origin !== window.location.origin) return;
    if (url.pathname === window.location.pathname && url.search === window.location.search &&
        url.hash) return;                       /* an anchor on this page */
    soon();
  });

  /* Runs after the confirm/double-submit handler above: only a submit that goes ahead. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || event.defaultPrevented) return;
    if (form.target && form.target !== "_self") return;
    soon();
  });

  window.addEventListener("pageshow", hideLoading);
  window.addEventListener("pagehide", function () { window.clearTimeout(loadingTimer); });

  /* ------------------------------------------------------- (f) autosubmit */
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!field || !field.hasAttribute || !field.hasAttribute("data-autosubmit") || !field.form) return;
    if (typeof field.form.requestSubmit === "function") field.form.requestSubmit();
    else field.form.submit();
  });
})();

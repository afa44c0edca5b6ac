/* Material step: a chosen file or camera photo is uploaded at once (like WeUI's uploader);
 * without JS the 上传所选页面 button does the same. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-uploader]");
  if (!form) return;
  var button = form.querySelector("[data-upload-button]");
  form.classList.add("app-uploader_js");
  form.addEventListener("change", function (event) {
    var input = event.target;
    if (!input || input.type !== "file" || !input.files || !input.files.length || !button) return;
    if (typeof form.requestSubmit === "function") form.requestSubmit(button);
    else button.click();
  });
})();

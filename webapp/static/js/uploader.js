/* Material step: a chosen file or camera photo is uploaded at once (like WeUI's uploader);
 * without JS the 上传所选页面 button does the same. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-uploader]");
  if (!form) return;
  var button = form.querySelector("[data-upload-button]");
  if (!button) return;

  function send() {
    if (typeof form.requestSubmit === "function") form.requestSubmit(button);
    else button.click();
  }

  function chosen(input) {
    return input && input.type === "file" && input.files && input.files.length > 0;
  }

  form.classList.add("app-uploader_js");  /* hides the button: the choice itself uploads */
  form.addEventListener("change", function (event) {
    if (chosen(event.target)) send();
  });
  /* A file chosen while this script was still loading (a slow network) fired its change
   * before anyone listened; with the button now hidden it would be stuck: send it now. */
  var inputs = form.querySelectorAll("input[type=file]");
  for (var i = 0; i < inputs.length; i++) {
    if (chosen(inputs[i])) { send(); return; }
  }
})();

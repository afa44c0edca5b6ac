/* 承诺书 signature: a signature_pad on the canvas, sized for the device's pixel ratio; the PNG
 * data URL goes into the hidden field on submit (left empty when nothing was drawn). */
(function () {
  "use strict";
  var canvas = document.querySelector("[data-signature-pad]");
  if (!canvas || !window.SignaturePad) return;
  var form = canvas.closest("form");
  var input = form.querySelector("[data-signature-input]");
  var placeholder = form.querySelector("[data-signature-placeholder]");
  var clearButton = form.querySelector("[data-signature-clear]");
  var error = form.querySelector("[data-signature-error]");
  var pad = new window.SignaturePad(canvas, { minWidth: 1, maxWidth: 3, penColor: "#111" });

  function showPlaceholder() {
    if (placeholder) placeholder.hidden = !pad.isEmpty();
  }

  function resize() {
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    var data = pad.toData();
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    if (data.length) pad.fromData(data);
    showPlaceholder();
  }

  pad.addEventListener("beginStroke", function () {
    if (placeholder) placeholder.hidden = true;
    if (error) error.hidden = true;  /* the server's "please sign" no longer applies */
  });
  pad.addEventListener("endStroke", showPlaceholder);
  if (clearButton) {
    clearButton.addEventListener("click", function () {
      pad.clear();
      input.value = "";
      showPlaceholder();
    });
  }
  form.addEventListener("submit", function () {
    input.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
  });
  window.addEventListener("resize", resize);
  resize();
})();

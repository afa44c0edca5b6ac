// Pharmacy pages: camera QR scanning (BarcodeDetector where present, else the vendored jsQR
// decoding video frames) that fills the code field and submits it; keeping the scanner-gun
// field focused; the print button of the receipt. No inline script (CSP): data-* only.
(function () {
  "use strict";

  // Receipt: print.
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var form = document.querySelector("[data-scan-form]");
  var box = document.querySelector("[data-scanner]");
  if (!form) return;
  var input = form.querySelector("input[name=code]");

  // A scanner gun types into whatever has focus: keep it on the field unless the person is
  // using another control.
  function refocus() {
    var active = document.activeElement;
    if (!active || active === document.body) input.focus();
  }
  document.addEventListener("click", function () { setTimeout(refocus, 0); });
  window.addEventListener("focus", refocus);

  // 医保码 characters only, uppercase, so that a typed code matches what the QR carries.
  input.addEventListener("input", function () {
    var cleaned = input.value.toUpperCase();
    if (cleaned !== input.value) input.value = cleaned;
  });

  if (!box) return;
  var view = box.querySelector("[data-camera]");
  var video = box.querySelector("[data-video]");
  var statusLine = box.querySelector("[data-camera-status]");
  var startButton = box.querySelector("[data-camera-start]");
  var stopButton = box.querySelector("[data-camera-stop]");
  var stream = null;
  var running = false;
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var detector = null;

  function say(text) { statusLine.textContent = text; }

  function loadJsQR() {
    if (window.jsQR) return Promise.resolve(window.jsQR);
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = box.dataset.jsqr;
      script.onload = function () { window.jsQR ? resolve(window.jsQR) : reject(new Error("jsQR")); };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function decoder() {
    if ("BarcodeDetector" in window) {
      return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") < 0) throw new Error("no qr_code");
        detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      }).catch(function () { detector = null; return loadJsQR(); });
    }
    return loadJsQR();
  }

  function found(text) {
    stopCamera();
    input.value = String(text).trim().toUpperCase();
    say("已识别，正在查询…");
    form.requestSubmit ? form.requestSubmit() : form.submit();
  }

  function frame() {
    if (!running) return;
    if (video.readyState < 2 || !video.videoWidth) { requestAnimationFrame(frame); return; }
    if (detector) {
      detector.detect(video).then(function (codes) {
        if (codes.length) found(codes[0].rawValue); else requestAnimationFrame(frame);
      }).catch(function () { requestAnimationFrame(frame); });
      return;
    }
    var scale = Math.min(1, 640 / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    var image = context.getImageData(0, 0, canvas.width, canvas.height);
    var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
    if (code && code.data) found(code.data); else requestAnimationFrame(frame);
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("此浏览器无法使用摄像头，请使用扫码枪或手动输入。");
      return;
    }
    say("正在打开摄像头…");
    decoder().then(function () {
      return navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } }
      });
    }).then(function (media) {
      stream = media;
      video.srcObject = media;
      return video.play();
    }).then(function () {
      running = true;
      view.hidden = false;
      startButton.hidden = true;
      stopButton.hidden = false;
      say("将顾客的医保码对准取景框…");
      requestAnimationFrame(frame);
    }).catch(function (err) {
      stopCamera();
      say(err && err.name === "NotAllowedError"
        ? "未获得摄像头权限，请在浏览器设置中允许，或使用扫码枪/手动输入。"
        : "无法打开摄像头，请使用扫码枪或手动输入。");
    });
  }

  function stopCamera() {
    running = false;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.srcObject = null;
    view.hidden = true;
    startButton.hidden = false;
    stopButton.hidden = true;
  }

  startButton.addEventListener("click", startCamera);
  stopButton.addEventListener("click", function () { stopCamera(); say("摄像头已关闭。"); input.focus(); });
  window.addEventListener("pagehide", stopCamera);
})();

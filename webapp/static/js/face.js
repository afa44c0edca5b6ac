/* 人脸识别 page: open the front camera in the round frame, capture one frame on 开始识别 and
   post it (JPEG) with the challenge nonce and the CSRF token of the page's form. The photo
   fallback form below works without this script. */
(function () {
  "use strict";

  var root = document.querySelector("[data-face]");
  if (!root) { return; }

  var form = root.querySelector("[data-face-form]");
  var video = root.querySelector("[data-face-video]");
  var frame = root.querySelector("[data-face-frame]");
  var statusEl = root.querySelector("[data-face-status]");
  var errorBox = root.querySelector("[data-face-error-box]");
  var errorEl = root.querySelector("[data-face-error]");
  var unavailable = root.querySelector("[data-face-unavailable]");
  var unavailableText = root.querySelector("[data-face-unavailable-text]");
  var cameraActions = root.querySelector("[data-face-camera-actions]");
  var startBtn = root.querySelector("[data-face-start]");
  var nonceInput = root.querySelector("[data-face-nonce]");
  var stream = null;
  var busy = false;

  function say(text) { if (statusEl) { statusEl.textContent = text; } }

  function showError(text) {
    if (!errorBox || !errorEl) { return; }
    errorEl.textContent = text || "";
    errorBox.hidden = !text;
  }

  function cameraUnavailable(text) {
    if (unavailableText && text) { unavailableText.textContent = text; }
    if (unavailable) { unavailable.hidden = false; }
    if (frame) { frame.hidden = true; }
    if (cameraActions) { cameraActions.hidden = true; }
    say("摄像头不可用");
  }

  function stopCamera() {
    if (stream) {
      stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
    }
  }

  function explain(err) {
    var name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      return "您未允许使用摄像头。请在浏览器设置中允许访问摄像头后刷新页面，或使用下方“拍照或选择照片”完成识别。";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError") {
      return "未找到可用的前置摄像头，请使用下方“拍照或选择照片”完成识别。";
    }
    if (name === "NotReadableError") {
      return "摄像头正被其他应用占用，请关闭其他应用后刷新，或使用下方“拍照或选择照片”。";
    }
    return "无法打开摄像头，请使用下方“拍照或选择照片”完成识别。";
  }

  function openCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.fetch) {
      cameraUnavailable("当前浏览器不支持调用摄像头（需使用 HTTPS 访问或更换浏览器），请使用下方“拍照或选择照片”完成识别。");
      return;
    }
    if (cameraActions) { cameraActions.hidden = false; }
    navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 640 } },
      audio: false
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      var ready = function () {
        startBtn.disabled = false;
        say("请正对屏幕，将面部置于圆框内，然后点击“开始识别”");
      };
      if (video.readyState >= 2) { ready(); } else { video.addEventListener("loadeddata", ready, { once: true }); }
      var playing = video.play();
      if (playing && playing.catch) { playing.catch(function () { /* autoplay is muted */ }); }
    }).catch(function (err) {
      cameraUnavailable(explain(err));
    });
  }

  function capture(done) {
    var w = video.videoWidth;
    var h = video.videoHeight;
    if (!w || !h) { done(null); return; }
    var side = Math.min(w, h);
    var out = Math.min(side, 640);
    var canvas = document.createElement("canvas");
    canvas.width = out;
    canvas.height = out;
    var ctx = canvas.getContext("2d");
    ctx.drawImage(video, (w - side) / 2, (h - side) / 2, side, side, 0, 0, out, out);
    if (canvas.toBlob) {
      canvas.toBlob(function (blob) { done(blob); }, "image/jpeg", 0.9);
    } else {
      done(null);
    }
  }

  function finish() {
    busy = false;
    if (frame) { frame.classList.remove("app-face_scanning"); }
    startBtn.disabled = !stream;
    startBtn.textContent = "开始识别";
  }

  function send(blob) {
    var data = new FormData(form);
    data.set("image", blob, "face.jpg");
    say("正在识别，请稍候…");
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body };
      });
    }).then(function (res) {
      var body = res.body || {};
      if (body.ok && body.next) {
        say("识别通过，正在跳转…");
        stopCamera();
        window.location.assign(body.next);
        return;
      }
      if (body.action) { form.action = body.action; }
      if (body.nonce && nonceInput) { nonceInput.value = body.nonce; }
      var message = body.error;
      if (message && typeof message === "object") { message = message.message; }
      if (res.status === 400 && !body.action) {
        message = message || "页面已过期，请刷新页面后重试。";
      }
      showError(message || "识别失败，请重试");
      say("请调整姿势后再次点击“开始识别”");
      finish();
    }).catch(function () {
      showError("网络异常，请检查网络后重试");
      say("");
      finish();
    });
  }

  if (startBtn) {
    startBtn.addEventListener("click", function () {
      if (busy) { return; }
      busy = true;
      startBtn.disabled = true;
      startBtn.textContent = "识别中…";
      if (frame) { frame.classList.add("app-face_scanning"); }
      showError("");
      capture(function (blob) {
        if (!blob) {
          showError("摄像头画面尚未就绪，请稍候再试");
          finish();
          return;
        }
        send(blob);
      });
    });
  }

  window.addEventListener("pagehide", stopCamera);
  openCamera();
}());

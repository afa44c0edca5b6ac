/* 人脸识别 page: open the front camera in the round frame; on 开始识别 show the asked actions
   one after another (prompt + steps + progress), capture a few frames for each across a few
   seconds and post them (JPEG, with the action and time of each) with the attempt's nonce and
   the CSRF token of the page's form. The photo fallback below (only where the policy allows
   it) works without this script. */
(function () {
  "use strict";

  var root = document.querySelector("[data-face]");
  if (!root) { return; }

  var LEAD_MS = 700;   // time to read a prompt before its first frame
  var GAP_MS = 450;    // between two frames of one action

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
  var stepsEl = root.querySelector("[data-face-steps]");
  var progressBox = root.querySelector("[data-face-progress-box]");
  var progress = root.querySelector("[data-face-progress]");
  var progressText = root.querySelector("[data-face-progress-text]");
  var perAction = parseInt(root.getAttribute("data-face-frames-per-action"), 10) || 3;
  var photoAllowed = root.getAttribute("data-face-photo") === "1";
  var stream = null;
  var busy = false;

  function wait(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function say(text, isAction) {
    if (!statusEl) { return; }
    statusEl.textContent = text;
    statusEl.classList.toggle("app-face-prompt_action", !!isAction);
  }

  function showError(text) {
    if (!errorBox || !errorEl) { return; }
    errorEl.textContent = text || "";
    errorBox.hidden = !text;
  }

  function steps() { return Array.prototype.slice.call(root.querySelectorAll("[data-face-step]")); }

  function actionNames() {
    return steps().map(function (li) { return li.textContent.trim(); }).join("、");
  }

  function renderSteps(list) {
    if (!stepsEl || !list || !list.length) { return; }
    stepsEl.textContent = "";
    list.forEach(function (step) {
      var li = document.createElement("li");
      li.className = "app-steps__item";
      li.setAttribute("data-face-step", step.code);
      li.setAttribute("data-face-prompt", step.prompt);
      var label = document.createElement("span");
      label.className = "app-steps__label";
      label.textContent = step.label;
      li.appendChild(label);
      stepsEl.appendChild(li);
    });
  }

  function markStep(index) {
    steps().forEach(function (li, i) {
      li.classList.toggle("app-steps__item_done", i < index);
      li.classList.toggle("app-steps__item_on", i === index);
      if (i === index) { li.setAttribute("aria-current", "step"); } else { li.removeAttribute("aria-current"); }
    });
  }

  function setProgress(done, total) {
    if (!progress) { return; }
    progressBox.hidden = false;
    progress.max = total;
    progress.value = done;
    progressText.textContent = "已采集 " + done + "/" + total;
  }

  function ready() {
    startBtn.disabled = false;
    say("请将面部置于圆框内，点击“开始识别”后依次完成：" + actionNames());
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
    var tail = photoAllowed ? "或使用下方“拍照或选择照片”完成识别。" : "该操作须使用摄像头完成动作检测。";
    if (name === "NotAllowedError" || name === "SecurityError") {
      return "您未允许使用摄像头。请在浏览器设置中允许访问摄像头后刷新页面，" + tail;
    }
    if (name === "NotFoundError" || name === "OverconstrainedError") {
      return "未找到可用的前置摄像头，" + tail;
    }
    if (name === "NotReadableError") {
      return "摄像头正被其他应用占用，请关闭其他应用后刷新，" + tail;
    }
    return "无法打开摄像头，" + tail;
  }

  function openCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.fetch || !window.Promise) {
      cameraUnavailable("当前浏览器不支持调用摄像头（需使用 HTTPS 访问或更换浏览器），" +
        (photoAllowed ? "请使用下方“拍照或选择照片”完成识别。" : "该操作须使用摄像头完成动作检测。"));
      return;
    }
    if (cameraActions) { cameraActions.hidden = false; }
    navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 640 } },
      audio: false
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      if (video.readyState >= 2) { ready(); } else { video.addEventListener("loadeddata", ready, { once: true }); }
      var playing = video.play();
      if (playing && playing.catch) { playing.catch(function () { /* autoplay is muted */ }); }
    }).catch(function (err) {
      cameraUnavailable(explain(err));
    });
  }

  function grab() {
    return new Promise(function (resolve) {
      var w = video.videoWidth;
      var h = video.videoHeight;
      if (!w || !h || !document.createElement("canvas").toBlob) { resolve(null); return; }
      var side = Math.min(w, h);
      var out = Math.min(side, 640);
      var canvas = document.createElement("canvas");
      canvas.width = out;
      canvas.height = out;
      canvas.getContext("2d").drawImage(video, (w - side) / 2, (h - side) / 2, side, side, 0, 0, out, out);
      canvas.toBlob(function (blob) { resolve(blob); }, "image/jpeg", 0.85);
    });
  }

  /* Each action: its prompt, a moment to read it, then perAction frames GAP_MS apart. */
  function captureSequence() {
    var list = steps();
    var total = list.length * perAction;
    var frames = [];
    var started = null;
    var chain = Promise.resolve();
    setProgress(0, total);
    list.forEach(function (li, index) {
      chain = chain.then(function () {
        markStep(index);
        say(li.getAttribute("data-face-prompt") + "（第" + (index + 1) + "步，共" + list.length + "步）", true);
        return wait(LEAD_MS);
      });
      for (var k = 0; k < perAction; k += 1) {
        chain = chain.then(function () {
          return grab().then(function (blob) {
            if (!blob) { throw new Error("no-frame"); }
            var now = Date.now();
            if (started === null) { started = now; }
            frames.push({ blob: blob, action: li.getAttribute("data-face-step"), ms: now - started });
            setProgress(frames.length, total);
            return wait(GAP_MS);
          });
        });
      }
    });
    return chain.then(function () { markStep(list.length); return frames; });
  }

  function finish() {
    busy = false;
    if (frame) { frame.classList.remove("app-face_scanning"); }
    startBtn.disabled = !stream;
    startBtn.textContent = "开始识别";
  }

  function failed(message) {
    showError(message || "识别失败，请重试");
    markStep(-1);
    if (progressBox) { progressBox.hidden = true; }
    say("请调整姿势，点击“开始识别”后依次完成：" + actionNames());
    finish();
  }

  function send(frames) {
    var data = new FormData(form);
    data.delete("image");
    frames.forEach(function (f, i) {
      data.append("frame", f.blob, "frame-" + (i + 1) + ".jpg");
      data.append("frame_action", f.action);
      data.append("frame_ms", String(f.ms));
    });
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
      renderSteps(body.steps);
      var message = body.error;
      if (message && typeof message === "object") { message = message.message; }
      if (res.status === 400 && !body.action) {
        message = message || "页面已过期，请刷新页面后重试。";
      }
      failed(message);
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
      captureSequence().then(send).catch(function () {
        failed("摄像头画面尚未就绪，请稍候再试");
      });
    });
  }

  window.addEventListener("pagehide", stopCamera);
  openCamera();
}());

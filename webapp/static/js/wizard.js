/* Add-member wizard, info step: as soon as the ID number is complete, ask the server what it
 * already knows (age and who confirms, insured status, the member counter, accepted materials,
 * any rule that refuses) and show it under the form. Without JS the same appears on submit. */
(function () {
  "use strict";
  var form = document.querySelector("[data-wizard-info]");
  if (!form || !window.fetch) return;
  var panel = document.getElementById("kinship-preview");
  var list = panel.querySelector("[data-preview-list]");
  var url = panel.getAttribute("data-preview-url");
  var idField = form.elements.namedItem("id_number");
  var nameField = form.elements.namedItem("name");
  var relationField = form.elements.namedItem("relation");
  var csrf = form.elements.namedItem("csrf_token");
  var timer = null;
  var seq = 0;
  var lastKey = "";

  function normalisedId() {
    return idField.value.replace(/\s+/g, "").toUpperCase();
  }

  function addItem(text, bad) {
    if (!text) return;
    var li = document.createElement("li");
    li.className = "app-preview__item" + (bad ? " app-preview__item_bad" : "");
    li.textContent = text;
    list.appendChild(li);
  }

  function render(data) {
    list.textContent = "";
    addItem(data.age);
    if (data.insured) addItem("参保状态：" + data.insured);
    addItem(data.counter);
    addItem(data.materials);
    addItem(data.refusal, true);
    panel.hidden = !list.children.length;
  }

  function ask() {
    var id = normalisedId();
    if (id.length !== 18) return;
    var key = [nameField.value.trim(), id, relationField.value].join("|");
    if (key === lastKey) return;
    lastKey = key;
    var body = new FormData();
    body.append("name", nameField.value.trim());
    body.append("id_number", id);
    body.append("relation", relationField.value);
    var mine = ++seq;
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf ? csrf.value : "", "Accept": "application/json" }
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && mine === seq) render(data); })
      .catch(function () { lastKey = ""; });
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 350);
  }

  idField.addEventListener("input", soon);
  idField.addEventListener("blur", ask);
  nameField.addEventListener("change", ask);
  relationField.addEventListener("change", ask);
  if (normalisedId().length === 18) ask();
})();

// tierwise console: the few lines of plain JavaScript the pages need. Every
// page works without it; it adds copying to the clipboard, adding and
// removing event rows in the offer form, and confirmations.
(function () {
  "use strict";

  // Copy: a button with data-copy="<id>" copies that element's text.
  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("copied");
      setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 1500);
    });
  });

  // Confirm: a form with data-confirm="…" asks before it is sent.
  document.addEventListener("submit", function (e) {
    var message = e.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) e.preventDefault();
  });

  // Offer events: "Add an event" clones the template row with the next
  // index; "Remove" drops a row.
  document.addEventListener("click", function (e) {
    var add = e.target.closest("[data-add-event]");
    if (add) {
      e.preventDefault();
      var table = document.getElementById(add.getAttribute("data-add-event"));
      var template = document.getElementById("event-row-template");
      if (!table || !template) return;
      var body = table.tBodies[0];
      var index = 0;
      body.querySelectorAll("tr[data-index]").forEach(function (row) {
        index = Math.max(index, Number(row.getAttribute("data-index")) + 1);
      });
      var html = template.innerHTML.replace(/__i__/g, String(index));
      body.insertAdjacentHTML("beforeend", html);
      return;
    }
    var remove = e.target.closest("[data-remove-row]");
    if (remove) {
      e.preventDefault();
      var row = remove.closest("tr");
      if (row) row.remove();
    }
  });

  // Tabs: a [data-tabs] block shows the panel of the chosen tab and hides
  // the others, opening on the first panel with a problem in it. Without
  // JavaScript every panel shows, one after another.
  function showTab(tabs, name) {
    tabs.querySelectorAll("[role=tab][data-tab]").forEach(function (tab) {
      var on = tab.getAttribute("data-tab") === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
    });
    tabs.querySelectorAll("[data-panel]").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-panel") !== name;
    });
  }
  document.querySelectorAll("[data-tabs]").forEach(function (tabs) {
    var panels = tabs.querySelectorAll("[data-panel]");
    if (!panels.length) return;
    var open = panels[0];
    for (var i = 0; i < panels.length; i++) {
      if (panels[i].querySelector("[aria-invalid=true], .field-error")) { open = panels[i]; break; }
    }
    showTab(tabs, open.getAttribute("data-panel"));
  });
  document.addEventListener("click", function (e) {
    var tab = e.target.closest("[data-tabs] [role=tab][data-tab]");
    if (tab) showTab(tab.closest("[data-tabs]"), tab.getAttribute("data-tab"));
  });

  // A form that posts itself when it changes (hx-post: the builders'
  // drafts) keeps its own address: htmx would take the formaction of the
  // button last clicked while that button has the focus, and a change just
  // before a click on "Preview" would post the draft as a preview.
  document.addEventListener("htmx:configRequest", function (e) {
    var elt = e.detail.elt;
    if (elt instanceof HTMLFormElement && elt.hasAttribute("hx-post")) e.detail.path = elt.getAttribute("hx-post");
  });

  // Filters: a select with data-autosubmit sends its form when it changes.
  document.addEventListener("change", function (e) {
    if (e.target.matches("select[data-autosubmit]")) e.target.form.requestSubmit();
  });
})();

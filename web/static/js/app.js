// Lotse: progressive enhancement only. Every form works without this file; HTMX only makes it faster.
(function () {
  "use strict";

  // HTMX requests carry the session's CSRF token as a header (forms also carry it as a field).
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) {
      event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
    }
  });

  // As in the GOV.UK Design System: the error summary takes focus, so it is read out first.
  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
    }
    return Boolean(summary);
  }
  document.addEventListener("DOMContentLoaded", focusErrorSummary);

  // After a form's answer replaced the part of the page that held the focus (a button that is gone),
  // focus the new part, so keyboard users carry on where they were instead of at the top.
  var swapped = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var config = event.detail.requestConfig;
    swapped = config && config.verb === "post" && event.detail.target ? event.detail.target.id : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    var id = swapped;
    swapped = null;
    if (!id || focusErrorSummary()) {
      return;
    }
    var active = document.activeElement;
    if (!active || active === document.body) {
      var part = document.getElementById(id);
      if (part) {
        part.setAttribute("tabindex", "-1");
        part.focus();
      }
    }
  });

  // A link in the error summary moves focus to its field, not only the scroll position.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".error-summary a[href^='#']") : null;
    if (!link) {
      return;
    }
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (field) {
      event.preventDefault();
      field.focus();
    }
  });
})();

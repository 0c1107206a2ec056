// The send list: filters, search by customer id, "show more" and a CSV download of what is
// shown, all from the JSON embedded in the page (no request leaves the page).
(function () {
  "use strict";
  var FORMULA = /^[=+\-@\t\r]/;
  var NUMBER = /^([\u2212+\-]?[^\d\s]{0,3}[\d,.]+%?|\u2014)$/;
  var HEADERS = ["Customer", "Channel", "What to send", "Offer", "Reason", "Risk",
                 "Chance of leaving", "Value at stake", "Membership", "Products to show"];
  var PAGE = 50;

  function alignNumbers(root) {
    root.querySelectorAll("table.num tbody td:not(:first-child), table.num tfoot td:not(:first-child)").forEach(function (td) {
      if (NUMBER.test(td.textContent.trim())) { td.classList.add("r"); }
    });
  }

  function csvCell(value) {
    var text = String(value);
    if (FORMULA.test(text)) { text = "'" + text; }
    return /[",\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function setup() {
    var holder = document.getElementById("send-data");
    var table = document.getElementById("send-table");
    if (!holder || !table) { return; }
    var data = JSON.parse(holder.textContent);
    var rows = data.rows;
    var body = table.querySelector("tbody");
    var selects = Array.prototype.slice.call(
      document.querySelectorAll("#send-filters select"));
    var search = document.getElementById("send-search");
    var more = document.getElementById("send-more");
    var count = document.getElementById("send-count");
    var limit = PAGE;
    var shown = rows;

    selects.forEach(function (select) {
      var col = Number(select.dataset.col);
      var seen = {};
      rows.forEach(function (r) { seen[r[col]] = (seen[r[col]] || 0) + 1; });
      Object.keys(seen).sort().forEach(function (value) {
        var option = document.createElement("option");
        option.value = value;
        option.textContent = value + " (" + seen[value].toLocaleString("en") + ")";
        select.appendChild(option);
      });
    });

    function matches(r) {
      var needle = search.value.trim().toLowerCase();
      if (needle && String(r[0]).toLowerCase().indexOf(needle) < 0) { return false; }
      return selects.every(function (s) {
        return !s.value || r[Number(s.dataset.col)] === s.value;
      });
    }

    function draw() {
      shown = rows.filter(matches);
      var part = document.createDocumentFragment();
      shown.slice(0, limit).forEach(function (r) {
        var tr = document.createElement("tr");
        tr.dataset.id = r[0];
        for (var i = 0; i < HEADERS.length; i++) {
          var td = document.createElement("td");
          td.textContent = r[i];
          if (i === 6 || i === 7) { td.className = "r"; }
          tr.appendChild(td);
        }
        part.appendChild(tr);
      });
      body.replaceChildren(part);
      var total = shown.length.toLocaleString("en");
      count.textContent = shown.length === 0 ? "No customer matches." :
        "Showing " + Math.min(limit, shown.length).toLocaleString("en") + " of " + total +
        (shown.length === 1 ? " customer" : " customers") + " to contact" +
        (shown.length < rows.length ? " (filtered from " +
          rows.length.toLocaleString("en") + ")." : ".");
      more.hidden = shown.length <= limit;
    }

    function restart() { limit = PAGE; draw(); }
    selects.forEach(function (s) { s.addEventListener("change", restart); });
    search.addEventListener("input", restart);
    more.addEventListener("click", function () { limit += 200; draw(); });
    document.getElementById("send-download").addEventListener("click", function () {
      var lines = [HEADERS.map(csvCell).join(",")];
      shown.forEach(function (r) {
        var cells = r.slice(0, HEADERS.length);
        cells[6] = r[10];   // the raw numbers, for a spreadsheet
        cells[7] = r[11];
        lines.push(cells.map(csvCell).join(","));
      });
      var blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], {type: "text/csv"});
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "send-list-" + data.batch + ".csv";
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
    });
    draw();
  }

  document.addEventListener("DOMContentLoaded", function () {
    alignNumbers(document);
    setup();
  });
})();

// Generated forms: add/remove table lines, link pickers (tom-select), UDI scans filling siblings.
(function () {
  "use strict";
  function csrf() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }
  function initPickers(root) {
    if (typeof TomSelect === "undefined") { return; }
    root.querySelectorAll("select.link-picker").forEach(function (select) {
      if (select.tomselect) { return; }
      new TomSelect(select, {
        valueField: "value", labelField: "label", searchField: "label", preload: "focus",
        // the server matched code, name, GTIN or a whole scan: show what it found as it is
        // (the label holds none of those, and filtering by it would hide every match)
        score: function () { return function () { return 1; }; },
        render: {no_results: function () {
          return "<div class='no-results'>" + noMatch() + "</div>";
        }},
        load: function (query, callback) {
          var picker = this;
          var url = select.dataset.lookup;
          url += (url.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(query);
          // a filter on the record's own fields (this('supplier')): send what they hold now
          thisNames(select).forEach(function (name) {
            var input = select.form && select.form.querySelector("[name='" + name + "']");
            url += "&this." + name + "=" + encodeURIComponent(input ? input.value : "");
          });
          fetch(url, {credentials: "same-origin"})
            .then(function (r) { return r.json(); })
            .then(function (j) { picker.clearOptions(); callback(j.results); })
            .catch(function () { callback(); });
        }
      });
    });
  }
  function noMatch() {
    var meta = document.querySelector("meta[name=lianku-no-match]");
    return meta ? meta.content : "";
  }
  function thisNames(select) {
    return select.dataset.this ? select.dataset.this.split(",") : [];
  }
  // choices filtered by a header field go stale when it changes: ask again on the next open
  document.addEventListener("change", function (event) {
    var name = event.target.name;
    if (!name) { return; }
    document.querySelectorAll("select.link-picker[data-this]").forEach(function (select) {
      if (select.tomselect && thisNames(select).indexOf(name) >= 0) {
        select.tomselect.clearOptions();  // (forgets the searches asked; keeps the choice)
        select.tomselect.wrapper.classList.remove("preloaded");  // and loads again on focus
      }
    });
  });
  function renumber(table) {
    table.querySelectorAll("tbody tr[data-line]").forEach(function (row, index) {
      row.querySelectorAll("[name]").forEach(function (input) {
        input.name = input.name.replace(/\[(\d+|__INDEX__)\]/, "[" + index + "]");
        input.id = "f-" + input.name;
        var wrapper = input.closest(".field-input");
        if (wrapper) { wrapper.id = "in-" + input.name.replace(/[\[.]/g, "-").replace(/\]/g, ""); }
      });
      row.querySelectorAll(".field-input").forEach(function (wrapper) {
        wrapper.id = wrapper.id.replace(/-(\d+|__INDEX__)-/, "-" + index + "-");
      });
      // a line cell's own visibility (its field's visible_if) follows its line's number too
      row.querySelectorAll("[data-field]").forEach(function (cell) {
        cell.dataset.field = cell.dataset.field.replace(/\[(\d+|__INDEX__)\]/, "[" + index + "]");
      });
    });
  }
  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var name = add.dataset.addRow;
      var template = document.querySelector("template[data-row-template='" + name + "']");
      var table = document.querySelector("table[data-table='" + name + "']");
      table.querySelector("tbody").appendChild(template.content.cloneNode(true));
      renumber(table);
      initPickers(table);
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var tableOf = remove.closest("table");
      remove.closest("tr").remove();
      renumber(tableOf);
      tableOf.dispatchEvent(new Event("change", {bubbles: true}));
    }
  });
  // A value the live recompute refused (a discount of 120 %) comes back as typed with its error;
  // once the user changes it, that error is old: it goes, and the answer to the change brings it
  // back if the new value is refused too (a value it takes is not sent back at all). So does the
  // error a refused save left beside the input (under a line's cell, or the field's box).
  document.addEventListener("change", function (event) {
    var wrapper = event.target.closest && event.target.closest("#record-form .field-input");
    if (!wrapper) { return; }
    wrapper.querySelectorAll(".invalid-feedback").forEach(function (said) { said.remove(); });
    wrapper.parentElement.querySelectorAll(":scope > .invalid-feedback").forEach(function (said) {
      said.remove();
    });
    wrapper.querySelectorAll(".is-invalid").forEach(function (input) {
      input.classList.remove("is-invalid");
    });
  });
  document.addEventListener("keydown", function (event) {
    // A scanner types the code then Enter: do not submit, let the server parse it.
    if (event.key === "Enter" && event.target.dataset && event.target.dataset.udi) {
      event.preventDefault();
      event.target.dispatchEvent(new Event("change", {bubbles: true}));
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.body.setAttribute("hx-headers", JSON.stringify({"X-CSRFToken": csrf()}));
    initPickers(document);
  });
  function applyVisibility() {
    var holder = document.getElementById("visibility");
    if (!holder) { return; }
    var visible = JSON.parse(holder.dataset.visible || "{}");
    Object.keys(visible).forEach(function (name) {
      var wrapper = document.querySelector("#form-body [data-field='" + name + "']");
      if (wrapper) { wrapper.classList.toggle("d-none", !visible[name]); }
    });
  }
  // The live recompute answers the form as it was when the question was sent (one question at a
  // time: htmx queues the latest change behind the one in flight). A slow answer must not put a
  // field's old value back over what the user typed or picked since: such a field is left as it
  // is, and the change the user made asks again.
  var sent = null;
  function valuesOf(data, wrapper) {
    return Array.prototype.map.call(wrapper.querySelectorAll("[name]"), function (input) {
      return data.getAll(input.name).join("\n");
    }).join("\u0000");
  }
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt.id === "record-form") {
      sent = event.detail.formData;
      sent.set("_defaults", defaultsOf(event.detail.elt, sent));
    }
  });
  // A value the server filled from its field's default (its box marked data-default: a line's
  // price off the customer's agreed prices or the item card) follows what it is computed from
  // — the customer, the sale date, the item — until the user types or picks one: that drops the
  // mark, before the change's recompute is asked (hence the capture phase). Each recompute and
  // each save names the inputs still marked in `_defaults`, and the server computes them again
  // from the values sent with them; what the user typed stays.
  ["input", "change"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var target = event.target;
      var box = target.name && target.closest("#record-form .field-input[data-default]");
      if (box) { box.removeAttribute("data-default"); }
    }, true);
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var holder = form.id === "record-form" && form.querySelector("input[data-defaults]");
    if (!holder) { return; }
    holder.value = "";
    holder.value = defaultsOf(form, new FormData(form));
  }, true);
  // The server leaves out the lines sent blank and numbers the others from 0 (as
  // payload_from_form reads a name's first value): a mark names its line as the server will
  // number it, worked out from the very data sent.
  var LINE = /^([a-z][a-z0-9_]*)\[(\d+)\]\.([a-z][a-z0-9_]*)$/;
  function defaultsOf(form, data) {
    var filled = {}, read = {};
    data.forEach(function (value, key) {
      var line = LINE.exec(key);
      if (!line || read[key]) { return; }
      read[key] = true;
      filled[line[1]] = filled[line[1]] || [];
      if (value !== "" && filled[line[1]].indexOf(Number(line[2])) < 0) {
        filled[line[1]].push(Number(line[2]));
      }
    });
    var names = [];
    form.querySelectorAll(".field-input[data-default] [name]").forEach(function (input) {
      var line = LINE.exec(input.name);
      if (!line) { names.push(input.name); return; }
      var rows = (filled[line[1]] || []).sort(function (a, b) { return a - b; });
      var at = rows.indexOf(Number(line[2]));
      if (at >= 0) { names.push(line[1] + "[" + at + "]." + line[3]); }
    });
    return names.join(",");
  }
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var form = document.getElementById("record-form");
    var target = event.detail.target;
    if (!sent || !form || !form.contains(target)) { return; }
    if (valuesOf(new FormData(form), target) !== valuesOf(sent, target)) {
      event.detail.shouldSwap = false;
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    initPickers(document);
    applyVisibility();
  });
})();

// Attachment fields: the chosen file is uploaded at once; the form keeps only its id.
document.addEventListener("change", function (event) {
  var input = event.target;
  if (!input.dataset || !input.dataset.attachmentUpload || !input.files.length) { return; }
  var holder = input.parentElement;
  var value = holder.querySelector("[data-attachment-value]");
  var label = holder.querySelector("[data-attachment-name]");
  var body = new FormData();
  body.append("file", input.files[0]);
  label.textContent = input.dataset.uploading;
  var token = document.querySelector("meta[name=csrf-token]");
  fetch(input.dataset.attachmentUpload, {
    method: "POST", body: body, headers: {"X-CSRFToken": token ? token.content : ""},
  }).then(function (response) {
    return response.json().then(function (data) { return {ok: response.ok, data: data}; });
  }).then(function (result) {
    if (!result.ok) { throw new Error(result.data.error); }
    value.value = result.data.id;
    label.innerHTML = "";
    var link = document.createElement("a");
    link.href = result.data.url;
    link.textContent = result.data.filename;
    label.appendChild(link);
    input.classList.remove("is-invalid");
  }).catch(function (error) {
    value.value = "";
    label.textContent = error.message;
    input.classList.add("is-invalid");
  });
});

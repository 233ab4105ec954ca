// The metadata designers redraw themselves from the YAML after each change. An admin who has
// moved on and is typing in the next box meanwhile must not lose what they typed: the redrawn
// box gets it back, and the change is sent as if they had left the box.
(function () {
  let typing = null;
  const designer = (event) => event.detail.target && event.detail.target.id === "designer";

  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (!designer(event)) return;
    const box = document.activeElement;
    const typed = box && box.id && event.detail.target.contains(box)
      && (box.tagName === "TEXTAREA" || (box.tagName === "INPUT" && box.type !== "checkbox"))
      && box.value !== box.defaultValue;
    typing = typed ? { id: box.id, value: box.value } : null;
  });

  document.body.addEventListener("htmx:afterSettle", (event) => {
    if (!designer(event) || !typing) return;
    const box = document.getElementById(typing.id);
    if (box && box.value !== typing.value) {
      box.value = typing.value;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    }
    typing = null;
  });
})();

// Each change the designer made can be taken back, the last first: the YAML it was made to is
// kept, and "undo" puts it back into the editor, which the preview and the designer then follow
// as if it had been typed.
(function () {
  const undone = [];
  let before = null;
  const button = document.getElementById("designer-undo");
  const text = () => document.getElementById("yaml-text");
  const designer = (event) => event.detail.target && event.detail.target.id === "designer";
  if (!button) return;

  document.body.addEventListener("htmx:beforeRequest", (event) => {
    if (designer(event)) before = text().value;
  });

  document.body.addEventListener("htmx:afterSettle", (event) => {
    if (!designer(event) || before === null) return;
    if (text().value !== before) {
      undone.push(before);
      button.disabled = false;
    }
    before = null;
  });

  button.addEventListener("click", () => {
    if (!undone.length) return;
    const box = text();
    box.value = undone.pop();
    button.disabled = undone.length === 0;
    htmx.trigger(box, "keyup");
  });
})();

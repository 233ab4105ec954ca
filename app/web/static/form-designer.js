// The form editor's "add a field" helper: writes the field's YAML line at the end of the form's
// fields, where the admin sees it, and lets the preview check it as if they had typed it.
(function () {
  const box = document.querySelector("[data-add-field]");
  if (!box) return;
  const textarea = document.querySelector("textarea[name=yaml]");
  const input = (name) => box.querySelector(`[name=${name}]`);

  // after the last line of the top-level "fields:" block (before the next top-level key and the
  // blank or comment lines leading to it); at the end when the text has no such block
  function withField(text, line) {
    const lines = text.split("\n");
    const start = lines.findIndex((each) => /^fields:\s*$/.test(each));
    if (start < 0) return `${text.replace(/\n*$/, "")}\n${line}\n`;
    let end = lines.findIndex((each, i) => i > start && /^[A-Za-z_][\w]*:/.test(each));
    if (end < 0) end = lines.length;
    while (end > start + 1 && /^(\s*|#.*)$/.test(lines[end - 1])) end -= 1;
    lines.splice(end, 0, line);
    return lines.join("\n");
  }

  box.querySelector("[data-add-field-button]").addEventListener("click", () => {
    const name = input("new_name").value.trim();
    const valid = /^[a-z][a-z0-9_]{0,62}$/.test(name);
    input("new_name").classList.toggle("is-invalid", !valid);
    if (!valid) return;
    const type = input("new_type").value;
    const zh = input("new_zh").value.trim() || name;
    const en = input("new_en").value.trim() || name;
    const parts = [`name: ${name}`, `type: ${type}`,
      `label: {zh_CN: ${JSON.stringify(zh)}, en: ${JSON.stringify(en)}}`];
    if (type === "select" || type === "multiselect") parts.push(`options: ${input("new_options").value}`);
    if (type === "link") parts.push(`link: ${input("new_link").value}`);
    if (input("new_required").checked) parts.push("required: true");
    textarea.value = withField(textarea.value, `  - {${parts.join(", ")}}`);
    textarea.dispatchEvent(new KeyboardEvent("keyup"));  // the preview follows key presses
  });
})();

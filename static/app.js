// The dashboard's only script. "Copy" buttons (data-copy="<input id>"):
// without it (or without clipboard access) the value stays selectable. File
// inputs with data-read-into="<textarea id>" put the chosen file's text
// there (IdP metadata); without the script, the text is pasted instead.
document.addEventListener('click', (event) => {
  const button = event.target.closest('[data-copy]');
  if (!button) return;
  const input = document.getElementById(button.dataset.copy);
  if (!input) return;
  input.select();
  const done = () => { button.textContent = 'Copied'; };
  if (navigator.clipboard) {
    navigator.clipboard.writeText(input.value).then(done, () => {});
  }
});

document.addEventListener('change', (event) => {
  const input = event.target;
  if (!input.matches || !input.matches('input[type=file][data-read-into]')) return;
  const target = document.getElementById(input.dataset.readInto);
  const file = input.files && input.files[0];
  if (!target || !file) return;
  file.text().then((text) => { target.value = text; });
});

// The dashboard's only script: "Copy" buttons (data-copy="<input id>").
// Without it (or without clipboard access) the value stays selectable.
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

// labd's console: the board refreshes itself when the journal moves (server-sent events
// from /events), and the journal's head can be copied with one click.  No inline script:
// the Content-Security-Policy allows only this file.
"use strict";

function liveBoard(board) {
  const source = new EventSource("/events");
  let fetching = false;
  let again = false;
  async function refresh() {
    if (fetching) { again = true; return; }
    fetching = true;
    try {
      const response = await fetch(board.dataset.live, { credentials: "same-origin" });
      if (response.status === 401) { window.location.assign("/login"); return; }
      if (response.ok) {
        // Not while someone types a reason into a form of the table.
        const typing = board.contains(document.activeElement) &&
          document.activeElement.tagName === "INPUT";
        if (!typing) { board.innerHTML = await response.text(); }
      }
    } finally {
      fetching = false;
      if (again) { again = false; refresh(); }
    }
  }
  source.onmessage = refresh;
  source.addEventListener("expired", () => { source.close(); window.location.assign("/login"); });
}

function copyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", () => {
      const field = document.getElementById(button.dataset.copy);
      field.select();
      if (navigator.clipboard) { navigator.clipboard.writeText(field.value); }
      button.textContent = "Copied";
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const board = document.getElementById("board");
  if (board && board.dataset.live) { liveBoard(board); }
  copyButtons();
});

import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";

export { FitAddon, Terminal };

export function newTerminal(o: { readOnly?: boolean; cols?: number; rows?: number } = {}): Terminal {
  return new Terminal({
    cursorBlink: !o.readOnly,
    disableStdin: o.readOnly ?? false,
    fontFamily: '"DejaVu Sans Mono", "Cascadia Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    scrollback: 5000,
    allowProposedApi: false,
    ...(o.cols ? { cols: o.cols } : {}),
    ...(o.rows ? { rows: o.rows } : {}),
    theme: { background: "#0d1117", foreground: "#e6edf3", cursor: "#58a6ff", selectionBackground: "#264f78" },
  });
}

/** Ctrl+Shift+C copies the selection, Ctrl+Shift+V pastes (plain Ctrl+C stays an interrupt). */
export function clipboardKeys(term: Terminal): void {
  term.attachCustomKeyEventHandler((e) => {
    if (e.type !== "keydown" || !e.ctrlKey || !e.shiftKey) return true;
    const key = e.key.toLowerCase();
    if (key === "c") {
      const sel = term.getSelection();
      if (sel) void navigator.clipboard?.writeText(sel).catch(() => undefined);
      e.preventDefault();
      return false;
    }
    if (key === "v") {
      e.preventDefault();
      void navigator.clipboard
        ?.readText()
        .then((t) => term.paste(t))
        .catch(() => undefined);
      return false;
    }
    return true;
  });
}

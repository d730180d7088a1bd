/**
 * What every modal dialog does (WAI-ARIA dialog pattern): focus moves into it when it opens (its
 * first control of a kind, else the dialog itself), Tab and Shift+Tab stay inside it, Escape
 * closes it (unless `closeOnEscape` is false — a call is not hung up by Escape), and focus goes
 * back to where it was when it closes.
 */
import { useEffect, useRef, type RefObject } from 'react';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** The controls Tab can reach inside `root`, in order (hidden ones left out). */
function focusables(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((e) => e.getClientRects().length > 0);
}

export function useDialog(ref: RefObject<HTMLElement | null>, onClose: () => void, firstFocus = 'input, select, button', closeOnEscape = true): void {
  // The latest onClose without re-running the effect: parents pass a new function on every
  // render, and re-running would pull focus back to the first control each time.
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const first = Array.from(dialog.querySelectorAll<HTMLElement>(firstFocus)).find((e) => !e.matches(':disabled'));
    if (first) first.focus();
    else {
      if (!dialog.hasAttribute('tabindex')) dialog.tabIndex = -1;
      dialog.focus();
    }
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && closeOnEscape) return close.current();
      if (e.key !== 'Tab') return;
      const items = focusables(dialog);
      const active = document.activeElement;
      if (!items.length) return e.preventDefault();
      const inside = active instanceof Node && dialog.contains(active);
      if (e.shiftKey && (!inside || active === items[0] || active === dialog)) {
        e.preventDefault();
        items[items.length - 1].focus();
      } else if (!e.shiftKey && (!inside || active === items[items.length - 1])) {
        e.preventDefault();
        items[0].focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      if (before?.isConnected) before.focus();
    };
  }, [ref, firstFocus, closeOnEscape]);
}

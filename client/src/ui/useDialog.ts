/** What every dialog does: Escape closes it, and focus starts on its first control of a kind. */
import { useEffect, type RefObject } from 'react';

export function useDialog(ref: RefObject<HTMLElement | null>, onClose: () => void, firstFocus = 'input, select, button'): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    ref.current?.querySelector<HTMLElement>(firstFocus)?.focus();
    return () => window.removeEventListener('keydown', onKey);
  }, [ref, onClose, firstFocus]);
}

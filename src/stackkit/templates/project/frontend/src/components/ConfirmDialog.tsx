import { useEffect, useId, useRef, type KeyboardEvent } from "react";
import { createPortal } from "react-dom";
import { t } from "../i18n";
import { buttonClass, secondaryButtonClass } from "./Status";

interface Props {
  title: string;
  message: string;
  confirmLabel: string;
  busy?: boolean;
  error?: string | null;
  onConfirm: () => void;
  onCancel: () => void;
}

/**
 * A modal question. Focus starts on Cancel (the safe answer), stays inside while it is
 * open, and Escape cancels; the page behind is inert.
 */
export function ConfirmDialog({ title, message, confirmLabel, busy = false, error, onConfirm, onCancel }: Props) {
  const titleId = useId();
  const messageId = useId();
  const dialog = useRef<HTMLDivElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    cancel.current?.focus();
    const main = document.getElementById("root");
    main?.setAttribute("aria-hidden", "true");
    return () => {
      main?.removeAttribute("aria-hidden");
      previous?.focus();
    };
  }, []);

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === "Escape") {
      event.preventDefault();
      onCancel();
      return;
    }
    if (event.key !== "Tab" || !dialog.current) return;
    const buttons = [...dialog.current.querySelectorAll<HTMLButtonElement>("button:not([disabled])")];
    const first = buttons[0];
    const last = buttons[buttons.length - 1];
    if (!first || !last) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  // Outside #root, which is hidden from assistive technology while the dialog is open.
  return createPortal(
    <div className="fixed inset-0 z-20 flex items-center justify-center bg-black/50 p-4" onKeyDown={onKeyDown}>
      <div
        ref={dialog}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={messageId}
        className="w-full max-w-md rounded-lg bg-white p-6 shadow-xl"
      >
        <h2 id={titleId} className="text-lg font-semibold">
          {title}
        </h2>
        <p id={messageId} className="mt-2 text-sm text-slate-600">
          {message}
        </p>
        {error && (
          <p role="alert" className="mt-3 rounded-md bg-red-50 p-3 text-sm text-red-700">
            {error}
          </p>
        )}
        <div className="mt-6 flex justify-end gap-3">
          <button ref={cancel} type="button" onClick={onCancel} className={secondaryButtonClass}>
            {t("Cancel")}
          </button>
          <button type="button" onClick={onConfirm} disabled={busy} className={`${buttonClass} bg-red-600 hover:bg-red-500`}>
            {busy ? t("Working…") : confirmLabel}
          </button>
        </div>
      </div>
    </div>,
    document.body,
  );
}

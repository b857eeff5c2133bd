import { useState } from "react";
import { t } from "../i18n";
import { secondaryButtonClass } from "./Status";

export interface CursorStack {
  /** The cursor of the page shown (null for the first). */
  cursor: string | null;
  /** 1 for the first page. */
  page: number;
  first: () => void;
  next: (cursor: string) => void;
}

/** The cursors of the pages seen so far, back to page one whenever `query` changes. */
export function useCursorStack(query: string): CursorStack {
  const [cursors, setCursors] = useState<{ query: string; stack: (string | null)[] }>({ query, stack: [null] });
  const stack = cursors.query === query ? cursors.stack : [null];
  return {
    cursor: stack[stack.length - 1] ?? null,
    page: stack.length,
    first: () => setCursors({ query, stack: [null] }),
    next: (cursor) => setCursors({ query, stack: [...stack, cursor] }),
  };
}

/** "First page" and "Next page" for a keyset-paginated list; nothing when there is one page. */
export function Pager({ pages, nextCursor, loading }: { pages: CursorStack; nextCursor: string | null | undefined; loading: boolean }) {
  if (pages.page <= 1 && !nextCursor) return null;
  return (
    <div className="mt-4 flex gap-3">
      <button type="button" className={secondaryButtonClass} disabled={pages.page <= 1 || loading} onClick={pages.first}>
        {t("First page")}
      </button>
      <button
        type="button"
        className={secondaryButtonClass}
        disabled={loading || !nextCursor}
        onClick={() => {
          if (nextCursor) pages.next(nextCursor);
        }}
      >
        {t("Next page")}
      </button>
    </div>
  );
}

import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
import { buildUrl } from "../api";
import { useAuth } from "../auth/AuthContext";
import { t } from "../i18n";
import type { RelationInfo } from "../resources";
import type { ControlProps } from "./Field";

interface Choice {
  id: number;
  label: string;
}

interface Props {
  control: ControlProps;
  name: string;
  label: string;
  relation: RelationInfo;
  /** The ids picked, as text: "3", or "3,5" with `multiple` ("" for none). */
  value: string;
  required: boolean;
  /** Pick any number of rows (a many-to-many link), each shown as a removable chip. */
  multiple?: boolean;
  onChange: (value: string) => void;
}

/** How long typing pauses before the choices are asked for. */
const SEARCH_DELAY_MS = 200;

const idsOf = (value: string) => value.split(",").map((id) => id.trim()).filter(Boolean);
/** An id as the API writes it: "03" and "3" are one row. */
const canonical = (id: string | number) => String(Number(id));

/**
 * A searchable select of the rows a reference may name: `<path>/choices`, which offers
 * only the caller's own rows (admins' any). The ARIA combobox pattern: type to search,
 * arrows to move, Enter to pick, Escape to close.
 */
export function ReferencePicker({ control, name, label, relation, value, required, multiple = false, onChange }: Props) {
  const { request } = useAuth();
  const listId = useId();
  const [picked, setPicked] = useState<Choice[]>([]);
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const [choices, setChoices] = useState<Choice[]>([]);
  const [active, setActive] = useState(-1);
  const [failed, setFailed] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const pickedLabel = !multiple && picked[0] ? picked[0].label : "";
  // Whether the user is searching: labels that come late leave their text alone.
  const searching = useRef(false);
  searching.current = open;

  // The labels of the rows picked already (an edit, or a value filled in from the address).
  useEffect(() => {
    const ids = idsOf(value);
    if (ids.map(canonical).join(",") === picked.map((choice) => canonical(choice.id)).join(",")) return;
    if (ids.length === 0) {
      setPicked([]);
      return;
    }
    const controller = new AbortController();
    request<{ items: Choice[] }>(buildUrl(`${relation.path}/choices`, { ids: ids.join(","), limit: ids.length }), {
      signal: controller.signal,
    }).then(
      (page) => {
        const found = ids.map((id) => page.items.find((item) => canonical(item.id) === canonical(id)) ?? { id: Number(id), label: `#${id}` });
        setPicked(found);
        if (!multiple && !searching.current) setText(found[0]?.label ?? "");
      },
      () => undefined,
    );
    return () => controller.abort();
  }, [request, relation.path, value, picked, multiple]);

  useEffect(() => {
    if (!open) return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      const query = text === pickedLabel ? "" : text.trim();
      request<{ items: Choice[] }>(buildUrl(`${relation.path}/choices`, { q: query || undefined }), { signal: controller.signal }).then(
        (page) => {
          const offered = multiple ? page.items.filter((item) => !picked.some((choice) => choice.id === item.id)) : page.items;
          setChoices(offered);
          setActive(offered.length > 0 ? 0 : -1);
          setFailed(false);
          setLoaded(true);
        },
        () => {
          if (!controller.signal.aborted) setFailed(true);
        },
      );
    }, SEARCH_DELAY_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [request, relation.path, open, text, pickedLabel, picked, multiple]);

  function update(next: Choice[]) {
    setPicked(next);
    onChange(next.map((choice) => choice.id).join(","));
  }

  /** Open the list for a new search: the last search's choices are not shown meanwhile. */
  function search(query: string) {
    setText(query);
    setChoices([]);
    setActive(-1);
    setLoaded(false);
    setOpen(true);
  }

  function choose(choice: Choice) {
    setOpen(false);
    if (multiple) {
      setText("");
      if (!picked.some((other) => other.id === choice.id)) update([...picked, choice]);
    } else {
      setText(choice.label);
      update([choice]);
    }
  }

  function close() {
    setOpen(false);
    setText(pickedLabel);
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!open) return search(text);
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive((current) => (choices.length === 0 ? -1 : (current + step + choices.length) % choices.length));
    } else if (event.key === "Enter" && open) {
      event.preventDefault();
      const choice = choices[active];
      if (choice) choose(choice);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      close();
    }
  }

  const optionId = (index: number) => `${listId}-${index}`;
  // Arrowing past the rows the list shows scrolls the active one into sight.
  useEffect(() => {
    if (open && active >= 0) document.getElementById(`${listId}-${active}`)?.scrollIntoView?.({ block: "nearest" });
  }, [open, active, listId]);
  const remove = (choice: Choice) => update(picked.filter((other) => other.id !== choice.id));
  return (
    <div className="relative">
      {multiple && picked.length > 0 && (
        <ul aria-label={t("{label}, picked", { label })} className="mt-1 flex flex-wrap gap-2">
          {picked.map((choice) => (
            <li key={choice.id} className="inline-flex items-center gap-1 rounded-full bg-indigo-50 px-3 py-1 text-sm text-indigo-800">
              {choice.label}
              <button type="button" aria-label={t("Remove {name}", { name: choice.label })} onClick={() => remove(choice)} className="ml-1 rounded-full px-1 text-indigo-600 hover:bg-indigo-100">
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="flex items-center gap-2">
        <input
          {...control}
          name={name}
          type="text"
          role="combobox"
          autoComplete="off"
          aria-autocomplete="list"
          aria-expanded={open}
          aria-controls={listId}
          aria-activedescendant={open && active >= 0 ? optionId(active) : undefined}
          required={required}
          placeholder={multiple ? t("Type to search, Enter to add…") : t("Type to search…")}
          value={text}
          onChange={(event) => search(event.target.value)}
          onFocus={() => search(text)}
          onBlur={close}
          onKeyDown={onKeyDown}
        />
        {!multiple && !required && value !== "" && (
          <button
            type="button"
            aria-label={t("Clear {label}", { label })}
            onClick={() => {
              setText("");
              update([]);
            }}
            className="mt-1 rounded px-2 py-1 text-sm text-slate-600 hover:bg-slate-100"
          >
            ×
          </button>
        )}
      </div>
      <ul
        id={listId}
        role="listbox"
        aria-label={label}
        hidden={!open || choices.length === 0}
        className="absolute z-10 mt-1 max-h-60 w-full overflow-auto rounded-md bg-white py-1 text-sm shadow-lg ring-1 ring-slate-200"
      >
        {choices.map((choice, index) => (
          <li
            key={choice.id}
            id={optionId(index)}
            role="option"
            aria-selected={index === active}
            // Before the input's blur, which would close the list first.
            onMouseDown={(event) => {
              event.preventDefault();
              choose(choice);
            }}
            className={`cursor-pointer px-3 py-2 ${index === active ? "bg-indigo-50 text-indigo-900" : "text-slate-800"}`}
          >
            {choice.label}
          </li>
        ))}
      </ul>
      <p aria-live="polite" className="mt-1 text-xs text-slate-500">
        {open && failed ? t("Could not load the choices.") : open && loaded && choices.length === 0 ? t("Nothing to choose matches.") : ""}
      </p>
    </div>
  );
}

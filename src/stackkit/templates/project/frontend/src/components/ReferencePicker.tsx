import { useEffect, useId, useState, type KeyboardEvent } from "react";
import { buildUrl } from "../api";
import { useAuth } from "../auth/AuthContext";
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
  /** The id picked, as text ("" for none). */
  value: string;
  required: boolean;
  onChange: (value: string) => void;
}

/** How long typing pauses before the choices are asked for. */
const SEARCH_DELAY_MS = 200;

/**
 * A searchable select of the rows a reference may name: `<path>/choices`, which offers
 * only the caller's own rows (admins' any). The ARIA combobox pattern: type to search,
 * arrows to move, Enter to pick, Escape to close.
 */
export function ReferencePicker({ control, name, label, relation, value, required, onChange }: Props) {
  const { request } = useAuth();
  const listId = useId();
  const [picked, setPicked] = useState<Choice | null>(null);
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const [choices, setChoices] = useState<Choice[]>([]);
  const [active, setActive] = useState(-1);
  const [failed, setFailed] = useState(false);
  const [loaded, setLoaded] = useState(false);

  // The label of the row picked already (an edit, or a value filled in from the address).
  useEffect(() => {
    if (value === "" || picked?.id === Number(value)) return;
    const controller = new AbortController();
    request<{ items: Choice[] }>(buildUrl(`${relation.path}/choices`, { ids: value }), { signal: controller.signal }).then(
      (page) => {
        const found = page.items[0] ?? { id: Number(value), label: `#${value}` };
        setPicked(found);
        setText(found.label);
      },
      () => undefined,
    );
    return () => controller.abort();
  }, [request, relation.path, value, picked]);

  useEffect(() => {
    if (!open) return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      const query = picked && text === picked.label ? "" : text.trim();
      request<{ items: Choice[] }>(buildUrl(`${relation.path}/choices`, { q: query || undefined }), { signal: controller.signal }).then(
        (page) => {
          setChoices(page.items);
          setActive(page.items.length > 0 ? 0 : -1);
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
  }, [request, relation.path, open, text, picked]);

  function choose(choice: Choice) {
    setPicked(choice);
    setText(choice.label);
    setOpen(false);
    onChange(String(choice.id));
  }

  function close() {
    setOpen(false);
    setText(picked && value !== "" ? picked.label : "");
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!open) return setOpen(true);
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
  return (
    <div className="relative">
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
          placeholder="Type to search…"
          value={text}
          onChange={(event) => {
            setText(event.target.value);
            setLoaded(false);
            setOpen(true);
          }}
          onFocus={() => {
            setLoaded(false);
            setOpen(true);
          }}
          onBlur={close}
          onKeyDown={onKeyDown}
        />
        {!required && value !== "" && (
          <button
            type="button"
            aria-label={`Clear ${label}`}
            onClick={() => {
              setPicked(null);
              setText("");
              onChange("");
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
        {open && failed ? "Could not load the choices." : open && loaded && choices.length === 0 ? "Nothing to choose matches." : ""}
      </p>
    </div>
  );
}

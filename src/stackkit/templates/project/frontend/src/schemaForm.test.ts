import { afterEach, describe, expect, it } from "vitest";
import { setLocale } from "./i18n";
import { FormValueError, displayValue, fieldsOf, initialValues, toBody } from "./schemaForm";
import { notesInfo } from "./test/fakeFetch";

describe("fieldsOf", () => {
  it("reads kinds, labels, required and nullable from a Pydantic schema", () => {
    const fields = fieldsOf(notesInfo.schemas.create);
    expect(fields.map((f) => [f.name, f.kind, f.required, f.nullable])).toEqual([
      ["title", "text", true, false],
      ["body", "textarea", false, true],
      ["done", "checkbox", false, false],
      ["priority", "select", false, false],
    ]);
    expect(fields[3]?.options).toEqual(["low", "high"]);
    expect(fields[0]?.maxLength).toBe(200);
  });

  it("knows numbers, dates and anything else as JSON", () => {
    const fields = fieldsOf({
      properties: {
        count: { type: "integer", minimum: 0 },
        price: { anyOf: [{ type: "number" }, { type: "null" }] },
        due: { type: "string", format: "date" },
        at: { type: "string", format: "date-time" },
        tags: { type: "array", items: { type: "string" } },
      },
    });
    expect(fields.map((f) => f.kind)).toEqual(["integer", "number", "date", "datetime", "json"]);
    expect(fields[0]?.minimum).toBe(0);
  });

  it("knows Pydantic's decimals (a number or its text), nullable or not", () => {
    const fields = fieldsOf({
      properties: {
        price: { anyOf: [{ type: "number" }, { type: "string" }] },
        discount: { anyOf: [{ type: "number" }, { type: "string" }, { type: "null" }], default: null },
      },
    });
    expect(fields.map((f) => [f.kind, f.nullable])).toEqual([
      ["decimal", false],
      ["decimal", true],
    ]);
  });
});

describe("toBody", () => {
  const fields = fieldsOf(notesInfo.schemas.create);

  it("sends typed JSON: booleans, null for an empty optional, defaults kept", () => {
    const values = { ...initialValues(fields), title: "Buy milk" };
    expect(toBody(fields, values)).toEqual({ title: "Buy milk", body: null, done: false, priority: "low" });
  });

  it("refuses an empty required field, naming it", () => {
    expect(() => toBody(fields, initialValues(fields))).toThrow(FormValueError);
  });

  it("sends only what changed when editing", () => {
    const original = initialValues(fields, { title: "Buy milk", body: "two", done: false, priority: "low" });
    expect(toBody(fields, { ...original, done: true, body: "" }, original)).toEqual({ done: true, body: null });
  });

  it("turns numbers and JSON into values, and refuses what is neither", () => {
    const typed = fieldsOf({ properties: { n: { type: "integer" }, x: { type: "number" }, j: { type: "object" } } });
    expect(toBody(typed, { n: "3", x: "2.5", j: '{"a": 1}' })).toEqual({ n: 3, x: 2.5, j: { a: 1 } });
    expect(() => toBody(typed, { n: "3.5", x: "", j: "" })).toThrow("Enter a whole number.");
    expect(() => toBody(typed, { n: "", x: "", j: "{" })).toThrow("Enter valid JSON.");
  });
});

describe("decimals", () => {
  const fields = fieldsOf({
    required: ["price"],
    properties: {
      price: { anyOf: [{ type: "number" }, { type: "string" }] },
      discount: { anyOf: [{ type: "number" }, { type: "string" }, { type: "null" }] },
    },
  });

  it("are sent as typed, digit for digit, and an empty optional one as null", () => {
    expect(toBody(fields, { price: "12.50", discount: "" })).toEqual({ price: "12.50", discount: null });
    expect(toBody(fields, { price: " -0.10 ", discount: ".5" })).toEqual({ price: "-0.10", discount: ".5" });
  });

  it.each(["abc", "1e3", "1,5", "12.5.0", "--1", "."])("refuse %s", (typed) => {
    expect(() => toBody(fields, { price: typed, discount: "" })).toThrow("Enter a number, like 12.50.");
  });

  it("keep to the scale the server gives, optional ones too", () => {
    // As stackkit's meta writes them: `x-decimal-places`, nested when the field is optional.
    const scaled = fieldsOf({
      required: ["price"],
      properties: {
        price: { anyOf: [{ type: "number" }, { type: "string" }], "x-decimal-places": 2 },
        discount: { anyOf: [{ anyOf: [{ type: "number" }, { type: "string" }], "x-decimal-places": 1 }, { type: "null" }] },
      },
    });
    expect(scaled.map((f) => [f.kind, f.nullable, f.scale])).toEqual([
      ["decimal", false, 2],
      ["decimal", true, 1],
    ]);
    expect(toBody(scaled, { price: "12.5", discount: "0.5" })).toEqual({ price: "12.5", discount: "0.5" });
    expect(() => toBody(scaled, { price: "12.505", discount: "" })).toThrow("Use at most 2 decimal places.");
    expect(() => toBody(scaled, { price: "1", discount: "0.25" })).toThrow("Use at most 1 decimal place.");
  });

  describe("in German", () => {
    afterEach(async () => {
      await setLocale("en");
      localStorage.clear();
    });

    it("are typed, shown and refused with a decimal comma, and sent with a point", async () => {
      await setLocale("de");
      expect(toBody(fields, { price: "12,50", discount: "0,5" })).toEqual({ price: "12.50", discount: "0.5" });
      expect(initialValues(fields, { price: "12.50", discount: null })).toEqual({ price: "12,50", discount: "" });
      expect(displayValue("3.10", "decimal")).toBe("3,10");
      expect(displayValue(2.5)).toBe("2,5");
      expect(() => toBody(fields, { price: "1.234,5", discount: "" })).toThrow("z. B. 12,50.");
      expect(() => toBody(fields, { price: "1.000", discount: "" })).toThrow("z. B. 12,50."); // not 1
    });
  });
});

describe("displayValue", () => {
  it("shows empties as a dash and booleans as words", () => {
    expect(displayValue(null)).toBe("—");
    expect(displayValue(true)).toBe("Yes");
    expect(displayValue({ a: 1 })).toBe('{"a":1}');
    expect(displayValue("plain")).toBe("plain");
  });
});

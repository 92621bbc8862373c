export * from "./frame.ts";
export * from "./decoder.ts";
export * from "./writer.ts";
export * from "./messages.ts";
export * from "./refusals.ts";

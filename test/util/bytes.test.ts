// withCapacity: a buffer kept and grown, its first bytes carried over, for every typed array it serves.
import { expect, test } from "bun:test";
import { withCapacity } from "../../lib/util/bytes.ts";

test("a buffer big enough is itself; a small one is replaced by one twice its size, or the size asked, keeping its first elements", () => {
  const bytes = Uint8Array.of(1, 2, 3, 4);
  expect(withCapacity(bytes, 4, 4)).toBe(bytes);
  const doubled = withCapacity(bytes, 5, 3);
  expect(doubled).toBeInstanceOf(Uint8Array);
  expect([...doubled]).toEqual([1, 2, 3, 0, 0, 0, 0, 0]);
  expect(withCapacity(bytes, 100, 4).length).toBe(100);
});

test("the allocator chooses the kind (Buffer, Int32Array, Float64Array), and a limit caps the doubling", () => {
  const buffer = withCapacity(Buffer.from([7]), 2, 1, Buffer.allocUnsafe);
  expect(Buffer.isBuffer(buffer)).toBe(true);
  expect(buffer[0]).toBe(7);
  const ranges = withCapacity(Int32Array.of(-1, 2), 3, 2, (size) => new Int32Array(size));
  expect([...ranges]).toEqual([-1, 2, 0, 0]);
  const samples = withCapacity(Float64Array.of(0.5), 2, 1, (size) => new Float64Array(size));
  expect([...samples]).toEqual([0.5, 0]);
  // Doubling 1,000 would give 2,000; the limit holds it to 1,200, and never below what is asked.
  expect(withCapacity(new Uint8Array(1000), 1001, 0, undefined, 1200).length).toBe(1200);
  expect(withCapacity(new Uint8Array(1000), 1500, 0, undefined, 1200).length).toBe(1500);
});

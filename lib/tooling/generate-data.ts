// Deterministic bets datasets in the course's format: one file per agency, rows
// first_name,last_name,document,birthdate,number, UTF-8, CRLF, no header.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { csvRow, CsvWriter } from "../storage/csv-writer.ts";
import { mulberry32 } from "../util/random.ts";

/** Bets per agency in the course's dataset. */
export const COURSE_SIZES = [26_936, 25_518, 16_014, 9_238, 991];
const DEFAULT_SEED = 7574;

const FIRST_NAMES = [
  "Santiago Lionel", "Agustín Emanuel", "Tiago Nicolás", "Diego Alejandro", "María José", "Lucía", "Sofía Belén",
  "Martín", "Joaquín", "Valentina", "Camila Inés", "Mateo", "Benjamín", "Julián Andrés", "Florencia", "Ramón",
  "Ana Clara", "Tomás", "Emilia", "Nahuel", "Azul", "Renata", "Bautista", "Lautaro", "Catalina", "Ignacio",
  "Micaela", "Gonzalo", "Ximena", "Héctor", "Zoe", "Facundo", "Agustina", "Ezequiel", "Abril", "Iñaki",
];
const LAST_NAMES = [
  "Lorca", "Zambrano", "Rivera", "Sánchez", "González", "Rodríguez", "Fernández", "López", "Martínez", "Pérez",
  "Gómez", "Díaz", "Álvarez", "Romero", "Sosa", "Benítez", "Ruiz", "Acuña", "Peña", "Muñoz", "Ibáñez", "Suárez",
  "Castro", "Ortiz", "Giménez", "Núñez", "Domínguez", "Gutiérrez", "Herrera", "Medina", "Aguirre", "Cabrera",
];
/** Rows are handed to the file in pieces of about this size. */
const WRITE_BYTES = 1 << 20;
const FIRST_BIRTH_DAY = Date.UTC(1980, 0, 1) / 86_400_000;
const BIRTH_DAYS = Date.UTC(2004, 11, 31) / 86_400_000 - FIRST_BIRTH_DAY + 1;

/** The bets of one agency's file, as their fields; the seed and the agency fix them. */
function* agencyBets(agency: number, bets: number, seed: number): Generator<string[]> {
  const next = mulberry32(seed * 1_000_003 + agency);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  let previousDocument = "";
  for (let i = 0; i < bets; i++) {
    // Real data repeats documents (one person, several bets): about one bet in 500 does here too.
    const document = previousDocument && next() < 0.002 ? previousDocument : String(20_000_000 + Math.floor(next() * 25_000_000));
    previousDocument = document;
    const birthdate = new Date((FIRST_BIRTH_DAY + Math.floor(next() * BIRTH_DAYS)) * 86_400_000).toISOString().slice(0, 10);
    const number = String(Math.floor(next() * 10_000));
    yield [pick(FIRST_NAMES), pick(LAST_NAMES), document, birthdate, number];
  }
}

/** The rows of one agency's file, as text. */
export function* agencyRows(agency: number, bets: number, seed = DEFAULT_SEED): Generator<string> {
  for (const fields of agencyBets(agency, bets, seed)) yield csvRow(fields);
}

/** Writes agency-1.csv ... agency-N.csv into `dir`; returns their paths. */
export async function generateDataset(dir: string, sizes: readonly number[], seed = DEFAULT_SEED): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  for (const [index, size] of sizes.entries()) {
    const path = join(dir, `agency-${index + 1}.csv`);
    const sink = Bun.file(path).writer({ highWaterMark: WRITE_BYTES });
    const rows = new CsvWriter();
    for (const fields of agencyBets(index + 1, size, seed)) {
      // Copied out: the writer reuses its buffer.
      if (rows.row(fields).length >= WRITE_BYTES) sink.write(rows.take().slice());
    }
    sink.write(rows.take().slice());
    await sink.end();
    paths.push(path);
  }
  return paths;
}

const USAGE = `usage: bun run gen-data [--out DIR] [--agencies N --bets N] [--seed N]
  Without --agencies/--bets, writes the course's sizes (${COURSE_SIZES.join(", ")}) into .data/.`;

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
  return value;
}

if (import.meta.main) {
  try {
    const { values } = parseArgs({
      options: { out: { type: "string" }, agencies: { type: "string" }, bets: { type: "string" }, seed: { type: "string" } },
    });
    const custom = values.agencies !== undefined || values.bets !== undefined;
    const sizes = custom
      ? new Array(positive("agencies", values.agencies, 5)).fill(positive("bets", values.bets, 1000))
      : COURSE_SIZES;
    const paths = await generateDataset(values.out ?? ".data", sizes, positive("seed", values.seed, DEFAULT_SEED));
    console.log(`wrote ${paths.length} files, ${sizes.reduce((a, b) => a + b, 0)} bets: ${paths.join(" ")}`);
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

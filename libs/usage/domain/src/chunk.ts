/**
 * Splits serialized rows (JSONEachRow lines, in offset order) into INSERT bodies bounded by count and bytes. Order
 * is kept: chunks are inserted one after the other, so the offset watermark stays true after any one of them.
 */
export function chunkLines(lines: readonly string[], rowsMax: number, bytesMax: number): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const line of lines) {
    const size = Buffer.byteLength(line) + 1;
    if (current.length > 0 && (current.length >= rowsMax || bytes + size > bytesMax)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(line);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export async function main(argv: string[]): Promise<number> {
  console.log("retrace", argv.join(" "));
  return 0;
}

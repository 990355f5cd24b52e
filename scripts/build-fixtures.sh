#!/usr/bin/env bash
# Assemble every guest program listed in fixtures/manifest.txt from its nasm
# source. With --check, assemble into a temporary directory and fail if any
# committed binary differs from its source (CI runs this).
#
# manifest.txt lines:  <kind> <source.asm> <output>   (paths relative to the repo)
#   kind bin   : nasm -f bin
#   kind elf32 : nasm -f elf32 + ld -m elf_i386 (static, no libc)
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = "--check" ] && check=1
command -v nasm >/dev/null || { echo "build-fixtures: nasm is not installed (apt-get install -y nasm)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
while read -r kind src out rest; do
  case "$kind" in ""|\#*) continue ;; esac
  built="$tmp/$(echo "$out" | tr / _)"
  case "$kind" in
    bin) nasm -f bin -I "$(dirname "$src")/" -o "$built" "$src" ;;
    elf32) nasm -f elf32 -I "$(dirname "$src")/" -o "$built.o" "$src" && ld -m elf_i386 -static -nostdlib --build-id=none -o "$built" "$built.o" ;;
    *) echo "build-fixtures: unknown kind '$kind' for $src" >&2; exit 2 ;;
  esac
  if [ $check = 1 ]; then
    if ! cmp -s "$built" "$out"; then echo "build-fixtures: $out does not match its source $src (run npm run fixtures)" >&2; status=1; fi
  else
    mkdir -p "$(dirname "$out")"
    cp "$built" "$out"
    echo "built $out"
  fi
done < fixtures/manifest.txt
exit $status

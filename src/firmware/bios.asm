; retrace BIOS: the firmware of retrace's emulated PC.
;
; A 64 KiB real-mode ROM, mapped at 0xF0000-0xFFFFF (and aliased at
; 0xFFFF0000). The CPU starts at F000:FFF0, which jumps to POST. Everything
; the BIOS does is ordinary x86 code and port I/O, so it shows up in traces
; like any other guest code. See README.md beside this file for the memory
; map, the services and how to rebuild.
;
; Build: nasm -f bin -I src/firmware/ -o src/firmware/bios.bin src/firmware/bios.asm
; (npm run fixtures does this for every line of fixtures/manifest.txt).

        bits 16
        cpu 686
        org 0                       ; offsets are relative to segment F000

%include "defs.inc"

; ---------------------------------------------------------------- the code
; Everything runs with CS = F000; handlers are near code inside this segment.

rom_start:
        db "retrace BIOS", 0        ; a readable tag at F000:0000

%include "util.inc"
%include "post.inc"
%include "irq.inc"
%include "timer.inc"
%include "video.inc"
%include "disk.inc"
%include "system.inc"
%include "keyboard.inc"
%include "boot.inc"

rom_code_end:

; ---------------------------------------------------------------- fixed tail
; The last 16 bytes are the reset vector, the ROM date and the model byte, at
; the places every PC BIOS keeps them (IBM AT Technical Reference layout).
; (nasm stops with "TIMES value is negative" if the code grows past 0xFFF0.)
        times 0xFFF0 - ($ - $$) db 0xFF

reset_vector:                       ; F000:FFF0, the first instruction after reset
        jmp BIOS_SEG:post_entry     ; EA oo oo 00 F0 (5 bytes)
rom_date:
        db "11/25/26"               ; F000:FFF5, mm/dd/yy
        db 0                        ; F000:FFFD
rom_model:
        db MODEL_BYTE               ; F000:FFFE, 0xFC = AT class
        db 0                        ; F000:FFFF, padding to 64 KiB

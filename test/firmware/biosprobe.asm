; biosprobe: a boot disk that exercises the BIOS services and prints what
; they return, one "KEY value..." line each, through INT 10h teletype (so
; on the screen and on COM1), then stops with cli; hlt.
;
; Layout (512-byte sectors): LBA 0 = MBR, LBA 1-15 = the rest of the probe
; (loaded by the MBR with INT 13h AH=42h), LBA 16-71 = marker sectors that
; start with "RTSECTOR" and their own LBA (dword), then the LBA's low byte
; repeated. test/firmware/bios.test.ts reads the output.
;
; Build: nasm -f bin -o test/firmware/biosprobe.bin test/firmware/biosprobe.asm

        bits 16
        cpu 686
        org 0x7C00

CODE_SECTORS    equ 16
MARKER_FIRST    equ CODE_SECTORS
MARKER_COUNT    equ 56
SCRATCH         equ 0xA000          ; 0000:A000, 4 KiB of scratch buffers
WRITE_LBA       equ 40

%macro PR 1
        jmp %%after
%%text: db %1, 0
%%after:
        push si
        mov si, %%text
        call puts
        pop si
%endmacro

; ---------------------------------------------------------------- LBA 0
mbr:
        jmp 0x0000:.go              ; CS = 0
.go:    cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        sti
        mov [boot_dl], dl
        mov ah, 0x42
        mov si, dap_stage2
        int 0x13
        jc .fail
        jmp stage2
.fail:  mov si, msg_load_fail
        call puts
        cli
        hlt

dap_stage2:
        db 0x10, 0
        dw CODE_SECTORS - 1
        dw stage2, 0
        dq 1

msg_load_fail:  db "PROBE stage 2 load failed", 13, 10, 0
boot_dl:        db 0

; puts: DS:SI zero-terminated.
puts:
        push ax
        push bx
        push si
.next:  lodsb
        test al, al
        jz .done
        mov ah, 0x0E
        mov bx, 0x0007
        int 0x10
        jmp .next
.done:  pop si
        pop bx
        pop ax
        ret

; putc: AL.
putc:
        push ax
        push bx
        mov ah, 0x0E
        mov bx, 0x0007
        int 0x10
        pop bx
        pop ax
        ret

hex8:   push ax
        push ax
        shr al, 4
        call .digit
        pop ax
        and al, 0x0F
        call .digit
        pop ax
        ret
.digit: cmp al, 10
        jb .num
        add al, 'A' - 10 - '0'
.num:   add al, '0'
        jmp putc

hex16:  xchg al, ah
        call hex8
        xchg al, ah
        jmp hex8

hex32:  ror eax, 16
        call hex16
        ror eax, 16
        jmp hex16

space:  push ax
        mov al, ' '
        call putc
        pop ax
        ret

crlf:   push ax
        mov al, 13
        call putc
        mov al, 10
        call putc
        pop ax
        ret

        times 510 - ($ - $$) db 0
        dw 0xAA55

; ---------------------------------------------------------------- LBA 1-15
stage2:
        PR "PROBE start dl="
        mov al, [boot_dl]
        call hex8
        call crlf

        ; ---- INT 10h
        mov ah, 0x0F
        int 0x10
        PR "V0F ax="
        call hex16
        PR " bh="
        mov al, bh
        call hex8
        call crlf

        mov ah, 0x03
        mov bh, 0
        int 0x10
        PR "V03 cx="
        mov ax, cx
        call hex16
        PR " dx="
        mov ax, dx
        call hex16
        call crlf

        mov ah, 0x12
        mov bl, 0x10
        int 0x10
        PR "V12 bx="
        mov ax, bx
        call hex16
        PR " cx="
        mov ax, cx
        call hex16
        call crlf

        mov ax, 0x1A00
        int 0x10
        PR "V1A ax="
        call hex16
        PR " bx="
        mov ax, bx
        call hex16
        call crlf

        mov ax, 0x4F00
        mov di, SCRATCH
        int 0x10
        PR "V4F ax="
        call hex16
        call crlf

        ; write a string at row 20, column 5 with attribute 1Eh, then read a
        ; cell back through AH=02h/08h
        mov ax, 0x1301              ; move the cursor
        mov bx, 0x001E
        mov cx, 2
        mov dx, 0x1405
        mov bp, str_hi
        int 0x10
        mov ah, 0x02
        mov bh, 0
        mov dx, 0x1406
        int 0x10
        mov ah, 0x08
        mov bh, 0
        int 0x10
        mov cx, ax
        call crlf                   ; the probe's lines continue below
        PR "V13 cell="
        mov ax, cx
        call hex16
        call crlf

        ; ---- INT 11h, 12h
        int 0x11
        PR "I11 ax="
        call hex16
        call crlf
        int 0x12
        PR "I12 ax="
        call hex16
        call crlf

        ; ---- INT 13h
        mov ah, 0x08
        mov dl, 0x80
        int 0x13
        call save_cf
        PR "D08 cx="
        mov ax, cx
        call hex16
        PR " dx="
        mov ax, dx
        call hex16
        call print_cf

        mov ah, 0x41
        mov bx, 0x55AA
        mov dl, 0x80
        int 0x13
        call save_cf
        PR "D41 ax="
        call hex16
        PR " bx="
        mov ax, bx
        call hex16
        PR " cx="
        mov ax, cx
        call hex16
        call print_cf

        mov ah, 0x15
        mov dl, 0x80
        int 0x13
        call save_cf
        PR "D15 ah="
        mov al, ah
        call hex8
        PR " cx="
        mov ax, cx
        call hex16
        PR " dx="
        mov ax, dx
        call hex16
        call print_cf

        mov word [SCRATCH], 0x42
        mov ah, 0x48
        mov dl, 0x80
        mov si, SCRATCH
        int 0x13
        call save_cf
        PR "D48 size="
        mov ax, [SCRATCH]
        call hex16
        PR " flags="
        mov ax, [SCRATCH + 2]
        call hex16
        PR " chs="
        mov eax, [SCRATCH + 4]
        call hex32
        call space
        mov eax, [SCRATCH + 8]
        call hex32
        call space
        mov eax, [SCRATCH + 12]
        call hex32
        PR " total="
        mov eax, [SCRATCH + 16]
        call hex32
        PR " bps="
        mov ax, [SCRATCH + 24]
        call hex16
        call print_cf

        ; CHS read of the first marker (cylinder 0, head 0, sector 17 on any
        ; geometry with at least 17 sectors per track) into 0000:SCRATCH
        mov ax, 0x0201
        mov cx, MARKER_FIRST + 1
        mov dx, 0x0080
        mov bx, SCRATCH
        int 0x13
        call save_cf
        PR "D02 ax="
        call hex16
        PR " marker="
        mov eax, [SCRATCH + 8]
        call hex32
        call check_marker_scratch
        call print_cf

        ; CHS read with sector 0: invalid
        mov ax, 0x0201
        mov cx, 0x0000
        mov dx, 0x0080
        mov bx, SCRATCH
        int 0x13
        call save_cf
        PR "D02BAD ah="
        mov al, ah
        call hex8
        call print_cf

        ; a drive that does not exist
        mov ah, 0x08
        mov dl, 0x81
        int 0x13
        call save_cf
        PR "D81 ah="
        mov al, ah
        call hex8
        call print_cf

        ; extended read of 4 markers to 0FFF:0000 = linear FFF0h, across the
        ; 64 KiB boundary
        mov word [dap + 2], 4
        mov word [dap + 4], 0x0000
        mov word [dap + 6], 0x0FFF
        mov dword [dap + 8], MARKER_FIRST + 1
        mov ah, 0x42
        mov dl, 0x80
        mov si, dap
        int 0x13
        call save_cf
        PR "D42 ah="
        mov al, ah
        call hex8
        PR " count="
        mov ax, [dap + 2]
        call hex16
        PR " markers="
        push es
        mov ax, 0x0FFF
        mov es, ax
        mov cx, 4
        mov ebx, MARKER_FIRST + 1
.markers:
        cmp dword [es:0], "RTSE"
        jne .bad_marker
        cmp [es:8], ebx
        jne .bad_marker
        mov al, bl
        cmp [es:511], al
        jne .bad_marker
        mov ax, es
        add ax, 0x20
        mov es, ax
        inc ebx
        loop .markers
        PR "ok"
        jmp .markers_done
.bad_marker:
        PR "BAD"
.markers_done:
        pop es
        call print_cf

        ; extended write of one sector to LBA 40, read back through CHS-less
        ; AH=42h into another buffer, compare
        mov di, SCRATCH
        mov cx, 512
        mov al, 0xA5
.fill:  stosb
        inc al
        loop .fill
        mov word [dap + 2], 1
        mov word [dap + 4], SCRATCH
        mov word [dap + 6], 0
        mov dword [dap + 8], WRITE_LBA
        mov ah, 0x43
        mov al, 0
        mov dl, 0x80
        mov si, dap
        int 0x13
        call save_cf
        PR "D43 ah="
        mov al, ah
        call hex8
        call print_cf
        mov word [dap + 4], SCRATCH + 0x200
        mov ah, 0x42
        mov dl, 0x80
        mov si, dap
        int 0x13
        call save_cf
        PR "D43READ ah="
        mov al, ah
        call hex8
        PR " same="
        mov si, SCRATCH
        mov di, SCRATCH + 0x200
        mov cx, 512
        repe cmpsb
        mov al, '1'
        je .same
        mov al, '0'
.same:  call putc
        call print_cf

        ; CHS write of one sector to LBA 41 (sector 42 of cylinder 0, head
        ; 0), read back with CHS, compare
        mov ax, 0x0301
        mov cx, 42
        mov dx, 0x0080
        mov bx, SCRATCH
        int 0x13
        call save_cf
        PR "D03 ax="
        call hex16
        call print_cf
        mov ax, 0x0201
        mov cx, 42
        mov dx, 0x0080
        mov bx, SCRATCH + 0x400
        int 0x13
        call save_cf
        PR "D03READ ax="
        call hex16
        PR " same="
        mov si, SCRATCH
        mov di, SCRATCH + 0x400
        mov cx, 512
        repe cmpsb
        mov al, '1'
        je .same3
        mov al, '0'
.same3: call putc
        call print_cf

        ; the last sector of the disk reads; the one after it does not
        mov word [SCRATCH + 0x600], 0x1E
        mov ah, 0x48
        mov dl, 0x80
        mov si, SCRATCH + 0x600
        int 0x13
        mov eax, [SCRATCH + 0x600 + 16]
        mov edx, [SCRATCH + 0x600 + 20]
        sub eax, 1
        sbb edx, 0
        mov [dap + 8], eax
        mov [dap + 12], edx
        mov word [dap + 2], 1
        mov word [dap + 4], SCRATCH + 0x800
        mov word [dap + 6], 0
        mov ah, 0x42
        mov dl, 0x80
        mov si, dap
        int 0x13
        call save_cf
        PR "D42LAST ah="
        mov al, ah
        call hex8
        PR " lba="
        mov eax, [dap + 12]
        call hex32
        mov eax, [dap + 8]
        call hex32
        call print_cf
        add dword [dap + 8], 1
        adc dword [dap + 12], 0
        mov word [dap + 2], 1
        mov ah, 0x42
        mov dl, 0x80
        mov si, dap
        int 0x13
        call save_cf
        PR "D42END ah="
        mov al, ah
        call hex8
        PR " count="
        mov ax, [dap + 2]
        call hex16
        call print_cf

        ; verify (AH=04h) the first two markers
        mov ax, 0x0402
        mov cx, MARKER_FIRST + 1
        mov dx, 0x0080
        int 0x13
        call save_cf
        PR "D04 ax="
        call hex16
        call print_cf

        ; reset, status
        mov ah, 0x00
        mov dl, 0x80
        int 0x13
        call save_cf
        PR "D00 ah="
        mov al, ah
        call hex8
        call print_cf
        mov ah, 0x01
        mov dl, 0x80
        int 0x13
        call save_cf
        PR "D01 ah="
        mov al, ah
        call hex8
        call print_cf

        ; ---- INT 15h
        xor ebx, ebx
.e820:  mov eax, 0xE820
        mov ecx, 24
        mov edx, 0x534D4150
        mov di, SCRATCH
        int 0x15
        call save_cf
        jc .e820_done
        push eax
        PR "E820 base="
        mov eax, [SCRATCH + 4]
        call hex32
        mov eax, [SCRATCH]
        call hex32
        PR " len="
        mov eax, [SCRATCH + 12]
        call hex32
        mov eax, [SCRATCH + 8]
        call hex32
        PR " type="
        mov eax, [SCRATCH + 16]
        call hex32
        PR " ecx="
        mov eax, ecx
        call hex32
        PR " eax="
        pop eax
        call hex32
        call crlf
        test ebx, ebx
        jnz .e820
.e820_done:
        PR "E820 end"
        call print_cf

        mov ax, 0xE801
        int 0x15
        call save_cf
        PR "E801 ax="
        call hex16
        PR " bx="
        mov ax, bx
        call hex16
        PR " cx="
        mov ax, cx
        call hex16
        PR " dx="
        mov ax, dx
        call hex16
        call print_cf

        mov ah, 0x88
        int 0x15
        call save_cf
        PR "E88 ax="
        call hex16
        call print_cf

        mov ax, 0x2402
        int 0x15
        call save_cf
        PR "A20 ax="
        call hex16
        call print_cf
        mov ax, 0x2403
        int 0x15
        call save_cf
        PR "A20SUP bx="
        mov ax, bx
        call hex16
        call print_cf

        mov ah, 0xC0
        int 0x15
        call save_cf
        PR "C0 model="
        mov ax, [es:bx]
        call hex16
        call space
        mov al, [es:bx + 2]
        call hex8
        push ds
        pop es
        call print_cf

        mov ax, 0x5300
        xor bx, bx
        int 0x15
        call save_cf
        PR "APM ah="
        mov al, ah
        call hex8
        call print_cf

        ; wait 100 ms and see the tick count move by about 2
        xor ax, ax
        int 0x1A
        mov si, dx
        mov ah, 0x86
        mov cx, 0x0001
        mov dx, 0x86A0              ; 100000 us
        int 0x15
        call save_cf
        xor ax, ax
        int 0x1A
        sub dx, si
        PR "W86 ticks="
        mov ax, dx
        call hex16
        call print_cf

        ; move block: 64 bytes from SCRATCH+800h to 3 MiB and back to SCRATCH+A00h
        mov di, SCRATCH + 0x800
        mov cx, 64
        mov al, 0x3C
.mpat:  stosb
        add al, 7
        loop .mpat
        mov di, gdt_move
        mov eax, SCRATCH + 0x800
        mov ebx, 0x00300000
        call move_block
        call save_cf
        PR "M87 ah="
        mov al, ah
        call hex8
        call space
        mov eax, 0x00300000
        mov ebx, SCRATCH + 0xA00
        call move_block
        mov si, SCRATCH + 0x800
        mov di, SCRATCH + 0xA00
        mov cx, 64
        repe cmpsb
        mov al, '1'
        je .msame
        mov al, '0'
.msame: PR "same="
        call putc
        call print_cf

        ; ---- INT 1Ah
        xor ax, ax
        int 0x1A
        PR "T00 cx="
        mov ax, cx
        call hex16
        PR " dx="
        mov ax, dx
        call hex16
        call crlf
        mov ah, 0x02
        int 0x1A
        call save_cf
        PR "T02 cx="
        mov ax, cx
        call hex16
        PR " dx="
        mov ax, dx
        call hex16
        call print_cf
        mov ah, 0x04
        int 0x1A
        call save_cf
        PR "T04 cx="
        mov ax, cx
        call hex16
        PR " dx="
        mov ax, dx
        call hex16
        call print_cf

        ; set the tick count, the time and the date, and read them back
        mov ah, 0x01
        mov cx, 0x0001
        mov dx, 0x2345
        int 0x1A
        xor ax, ax
        int 0x1A
        PR "T01 cx="
        mov ax, cx
        call hex16
        PR " dx="
        mov ax, dx
        call hex16
        call crlf
        mov ah, 0x03
        mov cx, 0x1234
        mov dx, 0x5600
        int 0x1A
        call save_cf
        mov ah, 0x02
        int 0x1A
        PR "T03 cx="
        mov ax, cx
        call hex16
        PR " dh="
        mov al, dh
        call hex8
        call print_cf
        mov ah, 0x05
        mov cx, 0x2030
        mov dx, 0x0615
        int 0x1A
        call save_cf
        mov ah, 0x04
        int 0x1A
        PR "T05 cx="
        mov ax, cx
        call hex16
        PR " dx="
        mov ax, dx
        call hex16
        call print_cf

        ; ---- INT 14h: status, send a byte, a port that does not exist
        mov ah, 0x03
        xor dx, dx
        int 0x14
        PR "S14 status="
        call hex16
        PR " send="
        mov ax, 0x015A              ; 'Z'
        xor dx, dx
        int 0x14
        PR " ah="
        mov al, ah
        call hex8
        mov ah, 0x03
        mov dx, 1
        int 0x14
        PR " com2="
        mov al, ah
        call hex8
        call crlf

        ; ---- A20 off: FFFF:0510 wraps to 0000:0500; A20 on: it does not
        mov ax, 0x2400
        int 0x15
        mov ax, 0x2402
        int 0x15
        PR "A20OFF al="
        call hex8
        call a20_wraps
        mov ax, 0x2401
        int 0x15
        mov ax, 0x2402
        int 0x15
        PR "A20ON al="
        call hex8
        call a20_wraps

        ; ---- INT 10h 09h/0Ah writes and 06h/07h window scrolls in the top
        ; left corner of page 0
        mov ah, 0x03
        mov bh, 0
        int 0x10
        mov [saved_cursor], dx
        mov ah, 0x02
        xor dx, dx
        int 0x10
        mov ax, 0x0941              ; 'A' x3, attribute 07h, at 0,0
        mov bx, 0x0007
        mov cx, 3
        int 0x10
        mov ah, 0x02
        mov dx, 0x0100
        int 0x10
        mov ax, 0x0A42              ; 'B' x3 at 1,0, attributes kept
        mov cx, 3
        int 0x10
        mov ax, 0x0701              ; rows 0-1, columns 0-1 down by 1, blanks 70h
        mov bh, 0x70
        mov cx, 0x0000
        mov dx, 0x0101
        int 0x10
        mov dx, 0x0000
        call read_cell
        mov [cells], ax
        mov dx, 0x0100
        call read_cell
        mov [cells + 2], ax
        mov dx, 0x0102
        call read_cell
        mov [cells + 4], ax
        mov ax, 0x0601              ; and back up by 1, blanks 1Fh
        mov bh, 0x1F
        mov cx, 0x0000
        mov dx, 0x0101
        int 0x10
        mov dx, 0x0000
        call read_cell
        mov [cells + 6], ax
        mov dx, 0x0100
        call read_cell
        mov [cells + 8], ax
        mov ah, 0x02
        mov bh, 0
        mov dx, [saved_cursor]
        int 0x10
        PR "V07 c00="
        mov ax, [cells]
        call hex16
        PR " c10="
        mov ax, [cells + 2]
        call hex16
        PR " c12="
        mov ax, [cells + 4]
        call hex8
        call crlf
        PR "V06 c00="
        mov ax, [cells + 6]
        call hex16
        PR " c10="
        mov ax, [cells + 8]
        call hex16
        call crlf

        ; ---- INT 16h: empty buffer, then stored keys
        mov ah, 0x01
        int 0x16
        mov al, '0'
        jnz .k1
        mov al, '1'
.k1:    PR "K01 empty="
        call putc
        call crlf
        mov ah, 0x05
        mov cx, 0x1C0D
        int 0x16
        PR "K05 al="
        call hex8
        call crlf
        mov ah, 0x05
        mov cx, 0x48E0              ; an up arrow as the enhanced keyboard stores it
        int 0x16
        mov ah, 0x11
        int 0x16
        PR "K11 ax="
        call hex16
        call crlf
        mov ah, 0x00
        int 0x16
        PR "K00 ax="
        call hex16
        call crlf
        mov ah, 0x00
        int 0x16
        PR "K00E ax="
        call hex16
        call crlf
        mov ah, 0x02
        int 0x16
        PR "K02 al="
        call hex8
        call crlf

        ; teletype scrolling: this line ends up on row 23 of a full screen
        PR "WXYZ"
        call crlf
        mov ah, 0x03
        mov bh, 0
        int 0x10
        mov [saved_cursor], dx
        mov di, scr_buf
        dec dh
        xor dl, dl
        mov cx, 4
.scr:   mov ah, 0x02
        mov bh, 0
        int 0x10
        mov ah, 0x08
        int 0x10
        mov [di], al
        inc di
        inc dl
        loop .scr
        mov byte [di], 0
        mov dx, [saved_cursor]
        mov ah, 0x02
        mov bh, 0
        int 0x10
        PR "SCR row="
        mov al, [saved_cursor + 1]
        call hex8
        PR " above="
        mov si, scr_buf
        call puts
        call crlf

        PR "PROBE done"
        call crlf
        cli
.halt:  hlt
        jmp .halt

; save_cf: remember CF (in BL-free storage) for print_cf.
save_cf:
        push ax
        setc al
        mov [last_cf], al
        pop ax
        ret

; print_cf: " cf=N" and a new line.
print_cf:
        push ax
        PR " cf="
        mov al, [last_cf]
        add al, '0'
        call putc
        call crlf
        pop ax
        ret

; check_marker_scratch: " ok"/" BAD" for the sector at SCRATCH being the first marker.
check_marker_scratch:
        cmp dword [SCRATCH], "RTSE"
        jne .bad
        cmp dword [SCRATCH + 4], "CTOR"
        jne .bad
        cmp byte [SCRATCH + 100], MARKER_FIRST
        jne .bad
        PR " ok"
        ret
.bad:   PR " BAD"
        ret

; read_cell: AX = character and attribute at row DH, column DL of page 0.
read_cell:
        mov ah, 0x02
        mov bh, 0
        int 0x10
        mov ah, 0x08
        int 0x10
        ret

; a20_wraps: print " wrap=1" if FFFF:0510 is the same byte as 0000:0500,
; then a new line.
a20_wraps:
        push es
        mov ax, 0xFFFF
        mov es, ax
        mov byte [0x0500], 0x11
        mov byte [es:0x0510], 0x22
        PR " wrap="
        mov al, '0'
        cmp byte [0x0500], 0x22
        jne .out
        mov al, '1'
.out:   call putc
        call crlf
        pop es
        ret

; move_block: INT 15h AH=87h, 32 words from linear EAX to linear EBX.
move_block:
        mov [gdt_move + 0x12], ax   ; source base 15-0
        ror eax, 16
        mov [gdt_move + 0x14], al   ; 23-16
        mov [gdt_move + 0x17], ah   ; 31-24
        mov [gdt_move + 0x1A], bx   ; destination
        ror ebx, 16
        mov [gdt_move + 0x1C], bl
        mov [gdt_move + 0x1F], bh
        mov si, gdt_move
        mov cx, 32
        mov ah, 0x87
        int 0x15
        ret

last_cf:        db 0
saved_cursor:   dw 0
cells:          times 5 dw 0
scr_buf:        times 6 db 0
str_hi:         db "hi"

dap:    db 0x10, 0
        dw 0
        dw 0, 0
        dq 0

        align 8
gdt_move:
        dq 0                        ; null
        dq 0                        ; the GDT (BIOS fills)
        dw 0xFFFF, 0                ; source: limit, base 15-0
        db 0, 0x93, 0, 0            ;   base 23-16, access, flags, base 31-24
        dw 0xFFFF, 0                ; destination
        db 0, 0x93, 0, 0
        dq 0                        ; BIOS code (BIOS fills)
        dq 0                        ; BIOS stack (BIOS fills)

        times CODE_SECTORS * 512 - ($ - $$) db 0

; ---------------------------------------------------------------- marker sectors
%assign lba MARKER_FIRST
%rep MARKER_COUNT
        db "RTSECTOR"
        dd lba
        times 512 - 12 db (lba & 0xFF)
%assign lba lba + 1
%endrep

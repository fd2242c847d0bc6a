// LD_PRELOAD for linux.uml (Debian 12's user-mode-linux, kernel 6.1), built and used by scripts/kernel/guest.sh.
//
// Why: UML 6.1 restores a guest thread's FPU state with PTRACE_SETREGSET(NT_X86_XSTATE) from a buffer of a size fixed
// when UML was built (x87 through AVX-512 and PKRU: 2696 bytes). The host kernel takes only a buffer of exactly its
// own XSAVE size and answers EFAULT otherwise; on a CPU with AMX that size is 11008 bytes, so the guest's init dies at
// its first exec ("userspace - ptrace set fp regs failed, errno = 14", then "Attempted to kill init"). Upstream UML
// fixed it by asking the host for the size (um: switch to regset API, 2024), which Debian 12's package predates.
//
// What: SETREGSET of NT_X86_XSTATE is given the host's size. A shorter buffer is copied and padded with zeros: the
// padding lies past every component the caller's XSAVE header can name (the components after PKRU are AMX's, and a
// guest process never has the host's permission to use AMX, so its header never names them), so the host restores
// the state the caller meant. A longer one is cut to the host's size (the tail names components the host lacks).
// Every other request goes to glibc's ptrace unchanged. No library does this; it is the smallest fix that keeps the
// whole AVX-512 state of guest threads (forcing UML onto its 512-byte FXSAVE path would lose the upper halves of the
// vector registers between threads of one guest process).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#define REQ_GETREGSET 0x4204
#define REQ_SETREGSET 0x4205
#define NOTE_X86_XSTATE 0x202

typedef long (*ptrace_fn)(int, pid_t, void *, void *);
static ptrace_fn real_ptrace;
static size_t host_size;           // the host's XSAVE size for ptrace, learnt from the first GETREGSET
static char area[64 * 1024];       // larger than any x86 XSAVE area (AMX's is about 11 KiB)

static long set_xstate(pid_t pid, void *note, struct iovec *given) {
  if (host_size == 0) {
    struct iovec probe = {area, sizeof area};
    if (real_ptrace(REQ_GETREGSET, pid, note, &probe) == 0) host_size = probe.iov_len;
  }
  if (host_size == 0 || host_size == given->iov_len || host_size > sizeof area) return real_ptrace(REQ_SETREGSET, pid, note, given);
  struct iovec sized = {area, host_size};
  if (given->iov_len < host_size) {
    memcpy(area, given->iov_base, given->iov_len);
    memset(area + given->iov_len, 0, host_size - given->iov_len);
  } else {
    sized.iov_base = given->iov_base;
  }
  return real_ptrace(REQ_SETREGSET, pid, note, &sized);
}

// glibc declares ptrace as variadic: the pid, address and data follow the request.
long ptrace(int request, ...) {
  va_list ap;
  va_start(ap, request);
  pid_t pid = va_arg(ap, pid_t);
  void *addr = va_arg(ap, void *);
  void *data = va_arg(ap, void *);
  va_end(ap);
  if (real_ptrace == 0) real_ptrace = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
  if (request == REQ_SETREGSET && (long)addr == NOTE_X86_XSTATE && data != 0) return set_xstate(pid, addr, data);
  return real_ptrace(request, pid, addr, data);
}

//! Criterion prints its own report on stdout, and has no switch for it short of parsing this
//! process's arguments as its own. While a benchmark runs, stdout is pointed at stderr, so that
//! criterion's report stays visible and stdout holds only this tool's table.

use std::io::Write;

/// Stdout goes to stderr until this is dropped.
pub struct StdoutToStderr {
    #[cfg(unix)]
    saved: std::os::fd::OwnedFd,
}

#[cfg(unix)]
unsafe extern "C" {
    fn dup2(from: std::os::raw::c_int, to: std::os::raw::c_int) -> std::os::raw::c_int;
}

impl StdoutToStderr {
    /// `None` where the descriptors cannot be swapped: criterion then prints on stdout.
    #[cfg(unix)]
    pub fn begin() -> Option<Self> {
        use std::os::fd::AsFd;
        let stdout = std::io::stdout();
        stdout.lock().flush().ok()?;
        let saved = stdout.as_fd().try_clone_to_owned().ok()?;
        // SAFETY: dup2 on this process's own standard descriptors, both open; nothing holds a
        // reference to descriptor 1's old file other than `saved`.
        (unsafe { dup2(2, 1) } >= 0).then_some(Self { saved })
    }

    #[cfg(not(unix))]
    pub fn begin() -> Option<Self> {
        None
    }
}

impl Drop for StdoutToStderr {
    fn drop(&mut self) {
        let _ = std::io::stdout().lock().flush();
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: as in `begin`; `saved` stays open until after this call.
            unsafe { dup2(self.saved.as_raw_fd(), 1) };
        }
    }
}

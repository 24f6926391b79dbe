"""`tmctl serve` as bench/run runs it: started in the background with its log
in a file, watched for dying, its peak RSS read and reset between scenarios."""

import subprocess

import coldstart


class Server:
    def __init__(self, command, env, log_path):
        self.command, self.env, self.log_path = command, env, log_path
        self.process = None

    def start(self):
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT)

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def alive(self):
        # poll() reaps an exited child, so a zombie does not count as alive.
        return self.process is not None and self.process.poll() is None

    def reset_peak_rss(self):
        """Resets VmHWM to the current RSS (writing 5 to clear_refs, Linux >=
        4.0); whether that worked."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def peak_rss_kb(self):
        return coldstart.peak_rss_kb(self.pid)

    def stop(self, grace_s=5):
        """SIGTERM, then SIGKILL after grace_s; reaps the process either way."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait()

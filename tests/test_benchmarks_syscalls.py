"""benchmarks/syscalls.py: the tracers' summaries read back into counts, and counts per delivery.

The texts are captured: what ``strace -f -c -p PID`` and ``perf stat -x, -e 'syscalls:sys_enter_*'``
wrote for one GloziChat server (IRC door) in P1, the two attached to the same run.
"""

from twisted.trial.unittest import SynchronousTestCase

from benchmarks.syscalls import largest_others, parse_perf_stat, parse_strace_summary, per_delivery, table

STRACE_SUMMARY = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 45.19    3.459255       10357       334        37 futex
 20.02    1.532789          85     17908           epoll_ctl
 18.12    1.386793       16125        86           fdatasync
 11.69    0.894814          99      8954           sendto
  2.46    0.188577         150      1256           pwrite64
  1.26    0.096407         186       516           fcntl
  0.64    0.049026          87       561           recvfrom
  0.29    0.022272         247        90           epoll_wait
  0.25    0.019220         223        86           write
  0.05    0.004189         139        30           mprotect
  0.02    0.001284          29        44           read
  0.01    0.000572         143         4           pread64
  0.00    0.000188          20         9           madvise
  0.00    0.000099          99         1           mmap
------ ----------- ----------- --------- --------- ----------------
100.00    7.655485         256     29879        37 total
"""

# Cut to the calls that happened, a few that did not (0) and one never counted; perf lists every one.
PERF_STAT = """\
# started on Wed Dec  2 00:22:12 2026

0,,syscalls:sys_enter_rt_sigreturn,6664542435,100.00,,
1,,syscalls:sys_enter_mmap,6664542435,100.00,,
333,,syscalls:sys_enter_futex,6664542435,100.00,,
30,,syscalls:sys_enter_mprotect,6664542435,100.00,,
4,,syscalls:sys_enter_madvise,6664542435,100.00,,
1256,,syscalls:sys_enter_pwrite64,6664542435,100.00,,
4,,syscalls:sys_enter_pread64,6664542435,100.00,,
85,,syscalls:sys_enter_write,6664542435,100.00,,
0,,syscalls:sys_enter_writev,6664542435,100.00,,
43,,syscalls:sys_enter_read,6664542435,100.00,,
514,,syscalls:sys_enter_fcntl,6664542435,100.00,,
86,,syscalls:sys_enter_fdatasync,6664542435,100.00,,
88,,syscalls:sys_enter_epoll_wait,6664542435,100.00,,
17908,,syscalls:sys_enter_epoll_ctl,6664542435,100.00,,
561,,syscalls:sys_enter_recvfrom,6664542435,100.00,,
8954,,syscalls:sys_enter_sendto,6664542435,100.00,,
<not counted>,,syscalls:sys_enter_sendmsg,0,100.00,,
"""


class StraceSummaryTests(SynchronousTestCase):
    def test_every_row_is_read_with_its_calls(self) -> None:
        """Each row gives its call's count, whether or not its errors column is filled (futex 334, 37 errors)."""
        calls = parse_strace_summary(STRACE_SUMMARY)
        self.assertLessEqual({"futex": 334, "epoll_ctl": 17908, "sendto": 8954, "mmap": 1}.items(), calls.items())
        self.assertEqual(len(calls), 14)

    def test_the_total_row_and_the_header_are_not_calls(self) -> None:
        """The ``total`` row is strace's sum (29,879), not a call; the header and rules are skipped."""
        calls = parse_strace_summary(STRACE_SUMMARY)
        self.assertNotIn("total", calls)
        self.assertNotIn("syscall", calls)
        self.assertEqual(sum(calls.values()), 29879)

    def test_strace_messages_beside_the_table_are_ignored(self) -> None:
        """strace's own lines (attach, detach) in the same text count as nothing."""
        text = "strace: Process 2373 attached with 2 threads\n" + STRACE_SUMMARY + "strace: Process 2373 detached\n"
        self.assertEqual(parse_strace_summary(text), parse_strace_summary(STRACE_SUMMARY))

    def test_no_summary_is_no_calls(self) -> None:
        """A run that printed no table (strace failed to attach) counts nothing rather than guessing."""
        self.assertEqual(parse_strace_summary("strace: attach: ptrace(PTRACE_SEIZE, 1): Operation not permitted\n"), {})


class PerfStatTests(SynchronousTestCase):
    def test_counts_by_call_name(self) -> None:
        """Each ``syscalls:sys_enter_NAME`` line gives NAME's count."""
        calls = parse_perf_stat(PERF_STAT)
        self.assertLessEqual({"sendto": 8954, "epoll_ctl": 17908, "futex": 333}.items(), calls.items())

    def test_calls_that_never_happened_are_left_out(self) -> None:
        """A 0 count, a ``<not counted>`` one and the comment line are not calls."""
        calls = parse_perf_stat(PERF_STAT)
        for name in ("rt_sigreturn", "writev", "sendmsg"):
            self.assertNotIn(name, calls)
        self.assertEqual(len(calls), 14)

    def test_perf_agrees_with_strace_on_the_same_run(self) -> None:
        """Counted in the same run (perf's span inside strace's), both read the same calls, and
        their totals (29,867 and 29,879) agree within 0.1 %."""
        by_perf, by_strace = parse_perf_stat(PERF_STAT), parse_strace_summary(STRACE_SUMMARY)
        self.assertEqual(set(by_perf), set(by_strace))
        self.assertEqual(sum(by_perf.values()), 29867)
        self.assertLess(abs(sum(by_perf.values()) / sum(by_strace.values()) - 1), 0.001)


class PerDeliveryTests(SynchronousTestCase):
    def test_calls_are_grouped_by_what_they_do(self) -> None:
        """sendto and write are sends, recvfrom and read are reads; what no column names is in the others."""
        figures = per_delivery({"sendto": 300, "write": 100, "recvfrom": 30, "read": 10, "epoll_wait": 20,
                                "epoll_ctl": 800, "futex": 40}, deliveries=400)  # fmt: skip
        self.assertEqual(
            figures,
            {"total": 3.25, "sendto/write/writev": 1.0, "recvfrom/read": 0.1, "epoll_wait": 0.05, "epoll_ctl": 2.0,
             "others": 0.1},
        )  # fmt: skip

    def test_the_largest_others_come_first(self) -> None:
        """The others are listed by count, the calls of a column left out."""
        calls = parse_perf_stat(PERF_STAT)
        self.assertEqual(
            largest_others(calls, deliveries=1000, count=3), [("pwrite64", 1.256), ("fcntl", 0.514), ("futex", 0.333)]
        )

    def test_the_table_sets_every_total_beside_ngircd(self) -> None:
        """Each row's total is also shown as a multiple of ngircd's total (2.00× for twice as many calls)."""

        def row(target: str, sends: int) -> dict:
            return {"target": target, "deliveries": 100, "per_delivery": per_delivery({"sendto": sends}, 100),
                    "generator": {"server_user_s": 0.0003, "server_system_s": 0.0001, "p99_ms": 2.0}}  # fmt: skip

        lines = table([row("ngircd (IRC)", 100), row("GloziChat (IRC)", 200)]).splitlines()
        self.assertIn("| ngircd (IRC) | 100 | 1.000 |", lines[2])
        self.assertIn("| 1.00× |", lines[2])
        self.assertIn("| GloziChat (IRC) | 100 | 2.000 |", lines[3])
        self.assertIn("| 2.00× |", lines[3])
        self.assertIn("| 3.00 + 1.00 | 2.00 |", lines[3])

"""What cardpipe does, apart from how it is asked: the use cases behind the commands.

Each module here is one job (enqueue a source, consume the queue, run a source to the end, redrive dead
letters, take in the broker's backstop) and returns what it did; :mod:`worker.commands` only parses arguments
and prints. So a job can call another job, and a test or a script can call a job, without going through a CLI.
"""

// The GNU extensions Subprocess needs, which Swift's Glibc module does not show (they are
// declared only under _GNU_SOURCE).
#ifndef CSPAWN_H
#define CSPAWN_H

#include <spawn.h>

/// pipe2(fds, O_CLOEXEC): a pipe no other child inherits.
int cspawn_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np: close every descriptor from `from` on in the child.
int cspawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/// posix_spawn_file_actions_addchdir_np: the child starts in `path`.
int cspawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

#endif

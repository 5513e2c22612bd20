"""hakmem_verify.models.malloc: any C allocator library under the harness (``--impl malloc:LIB[:PREFIX]``).

* ``spec``: naming a library and its entry points, resolved in a child process;
* ``child`` / ``client``: the library served from a forked child per allocator instance,
  with one real thread per virtual tid (the harness's own objects never live on its heap);
* ``stress``: the C stress driver (real pthreads, owner + sequence tags) for any library;
* ``native_lib``: the C pool behind a malloc front (``malloc:native``).
"""

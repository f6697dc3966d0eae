# What `cmake --install` puts where, and the Debian package CPack builds from it (`cpack -G DEB` in the build
# folder: rebound_<version>_amd64.deb, its Depends computed from the shared libraries by dpkg-shlibdeps).
include(GNUInstallDirs)

install(TARGETS rebound RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The demo's service and supervisor are rebound's own helpers, not commands: PREFIX/lib/rebound, where
# `${rebound_bin_dir}` finds them (cli/common.cpp).
install(TARGETS rebound-demo-service rebound-supervisor RUNTIME DESTINATION lib/rebound)
install(DIRECTORY scenarios/ DESTINATION ${CMAKE_INSTALL_DATADIR}/rebound/scenarios
  FILES_MATCHING PATTERN "*.toml" PATTERN "*.cfg" PATTERN "*.conf" PATTERN "*.md" PATTERN "*.sh")
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES packaging/bash-completion/rebound DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
# Templates for scheduled game-days (`rebound schedule --print-systemd` writes a unit pair per suite).
install(FILES packaging/systemd/rebound-gameday@.service packaging/systemd/rebound-gameday@.timer
  DESTINATION lib/systemd/system)

# A man page per subcommand, from its --help (help2man). Without help2man the build says so and installs none.
set(REBOUND_SUBCOMMANDS run validate faults gameday schedule history report doctor recover halt resume status)
set(about_run "run experiments and write their reports")
set(about_validate "check experiment and game-day suite files")
set(about_faults "list every step and probe type with its parameters")
set(about_gameday "run a game-day suite now")
set(about_schedule "run suites when their schedule says")
set(about_history "list recorded runs and the trend of time to recover")
set(about_report "re-render HTML reports from journals")
set(about_doctor "tell which fault types this host can inject")
set(about_recover "undo faults left behind by a rebound that died")
set(about_halt "emergency stop of every running experiment")
set(about_resume "lift a rebound halt")
set(about_status "what rebound is running on this host")
find_program(HELP2MAN help2man)
if(HELP2MAN)
  # Compressed, as Debian installs man pages.
  set(man_pages ${CMAKE_BINARY_DIR}/man/rebound.1.gz)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/rebound.1.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section=1 --version-string=${PROJECT_VERSION}
      "--name=chaos experiments with verdicts you can gate on" --output=${CMAKE_BINARY_DIR}/man/rebound.1
      $<TARGET_FILE:rebound>
    COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/man/rebound.1
    DEPENDS rebound VERBATIM)
  foreach(sub ${REBOUND_SUBCOMMANDS})
    # help2man names a page after the program it runs: a `rebound-SUB` wrapper gives REBOUND-SUB(1).
    set(wrapper ${CMAKE_BINARY_DIR}/man-tools/rebound-${sub})
    file(GENERATE OUTPUT ${wrapper} CONTENT "#!/bin/sh\nexec \"$<TARGET_FILE:rebound>\" ${sub} \"$@\"\n"
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
    set(page ${CMAKE_BINARY_DIR}/man/rebound-${sub}.1)
    list(APPEND man_pages ${page}.gz)
    add_custom_command(OUTPUT ${page}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section=1 --version-string=${PROJECT_VERSION}
        "--name=${about_${sub}}" --output=${page} ${wrapper}
      COMMAND gzip -9nf ${page}
      DEPENDS rebound VERBATIM)
  endforeach()
  add_custom_target(rebound_man ALL DEPENDS ${man_pages})
  install(FILES ${man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man not found: no man pages (apt-get install help2man)")
endif()

set(CPACK_PACKAGE_NAME rebound)
set(CPACK_PACKAGE_VENDOR "rebound")
set(CPACK_PACKAGE_CONTACT "rebound maintainers <rebound@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "chaos experiments with verdicts you can gate on")
set(CPACK_PACKAGE_DESCRIPTION "rebound breaks something for real (kills or freezes processes, drops, delays or\
 refuses network traffic with eBPF), watches the system through probes the whole time, and says whether it\
 stayed in its steady state and recovered within its SLO.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # rebound_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)    # Depends from the libraries the binaries link
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "iproute2, procps, stress-ng, fuse3")  # stress-ng: cpu/memory/io.stress; fuse3: fusermount3 for file.error, file.delay
set(CPACK_STRIP_FILES ON)
include(CPack)

# SPDX-License-Identifier: MIT
# lazymodModule.cmake - building lazymod modules with CMake (included by
# lazymodConfig.cmake).
#
#   lazymod_add_module(NAME SOURCES... DESTINATION DIR [LINK_LIBRARIES LIB...])
#     builds NAME.so (no "lib" prefix, hidden visibility, the headers of
#     lazymod::headers; a module links no lazymod library), installs it to
#     DIR and indexes DIR at install time.
#   lazymod_index_directory(DIR)
#     runs `lazymod index` on DIR (under $DESTDIR) at install time.
#
# DIR may be relative to CMAKE_INSTALL_PREFIX. Indexing runs after the files
# installed before it, so the last index of a directory sees all its modules.
include_guard(GLOBAL)

function(lazymod_index_directory dir)
  if(NOT IS_ABSOLUTE "${dir}")
    set(dir "${CMAKE_INSTALL_PREFIX}/${dir}")
  endif()
  install(CODE "
    execute_process(COMMAND \"$<TARGET_FILE:lazymod::tool>\" index \"\$ENV{DESTDIR}${dir}\"
                    RESULT_VARIABLE _lazymod_rc)
    if(NOT _lazymod_rc EQUAL 0)
      message(FATAL_ERROR \"lazymod index \$ENV{DESTDIR}${dir} failed\")
    endif()")
endfunction()

function(lazymod_add_module name)
  cmake_parse_arguments(PARSE_ARGV 1 _lm "" "DESTINATION" "LINK_LIBRARIES")
  if(NOT _lm_DESTINATION)
    message(FATAL_ERROR "lazymod_add_module(${name}): DESTINATION is required")
  endif()
  if(NOT _lm_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "lazymod_add_module(${name}): no source files")
  endif()
  add_library(${name} MODULE ${_lm_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES PREFIX ""
    C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden)
  target_link_libraries(${name} PRIVATE lazymod::headers ${_lm_LINK_LIBRARIES})
  install(TARGETS ${name} LIBRARY DESTINATION "${_lm_DESTINATION}")
  lazymod_index_directory("${_lm_DESTINATION}")
endfunction()

# Component targets shared by the build tree and the installed package config: each one is the
# header-only core plus one backend's dependency. Called once per project.
function(scorelift_add_component_target name)
  # usage: scorelift_add_component_target(<component> <core-target> <dependency targets...>)
  set(target scorelift_${name})
  if(TARGET scorelift::${name})
    return()
  endif()
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  target_link_libraries(${target} INTERFACE ${ARGN})
  add_library(scorelift::${name} ALIAS ${target})
endfunction()

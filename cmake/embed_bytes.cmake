# Helpers of the scripts that embed files in the binary as C++ arrays (embed_font.cmake,
# embed_assets.cmake), included by them in script mode.

# Sets OUT_VAR to the bytes of HEX (file(READ ... HEX)'s text) as "0x2f,0x2a," with 16 bytes
# a line.
function(vrepo_hex_to_bytes hex out_var)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REPEAT "0x..," 16 line)
  string(REGEX REPLACE "(${line})" "\\1\n" bytes "${bytes}")
  set(${out_var} "${bytes}" PARENT_SCOPE)
endfunction()

# Writes CONTENT to PATH (making its folder) only when it differs from what PATH holds, so
# that what includes PATH rebuilds only when the content changed.
function(vrepo_write_if_changed path content)
  if(EXISTS "${path}")
    file(READ "${path}" old)
  endif()
  if(NOT "${old}" STREQUAL "${content}")
    get_filename_component(dir "${path}" DIRECTORY)
    file(MAKE_DIRECTORY "${dir}")
    file(WRITE "${path}" "${content}")
  endif()
endfunction()

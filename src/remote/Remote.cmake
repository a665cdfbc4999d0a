# Remote devices (issue 7): the worker protocol over gRPC. gRPC is optional -- without it the same
# public headers are served by remote/disabled/, which answers every call with "this build of tutti
# has no gRPC", so the library, the CLI and the tests build everywhere.
# Included from src/CMakeLists.txt after the `tutti` target exists.
find_package(gRPC CONFIG QUIET)
find_program(TUTTI_GRPC_CPP_PLUGIN grpc_cpp_plugin)
if(gRPC_FOUND AND TUTTI_GRPC_CPP_PLUGIN)
  set(_tutti_remote_default ON)
else()
  set(_tutti_remote_default OFF)
endif()
option(TUTTI_WITH_REMOTE "Build remote workers over gRPC (libgrpc++-dev, protobuf-compiler-grpc)" ${_tutti_remote_default})

set(_remote_dir ${CMAKE_CURRENT_SOURCE_DIR}/remote)
# remote/*.cc and backends/remote/ need no gRPC; remote/grpc/ does, remote/disabled/ replaces it.
file(GLOB _remote_common_srcs CONFIGURE_DEPENDS ${_remote_dir}/*.cc ${CMAKE_CURRENT_SOURCE_DIR}/backends/remote/*.cc)
target_sources(tutti PRIVATE ${_remote_common_srcs})

if(TUTTI_WITH_REMOTE)
  if(NOT gRPC_FOUND OR NOT TUTTI_GRPC_CPP_PLUGIN)
    message(FATAL_ERROR "TUTTI_WITH_REMOTE=ON needs gRPC: apt-get install libgrpc++-dev protobuf-compiler-grpc")
  endif()
  set(_gen ${CMAKE_CURRENT_BINARY_DIR}/generated/remote)
  file(MAKE_DIRECTORY ${_gen})
  set(_proto_srcs ${_gen}/protocol.pb.cc ${_gen}/protocol.grpc.pb.cc)
  add_custom_command(
    OUTPUT ${_proto_srcs} ${_gen}/protocol.pb.h ${_gen}/protocol.grpc.pb.h
    COMMAND protobuf::protoc --proto_path=${_remote_dir} --cpp_out=${_gen} --grpc_out=${_gen}
            --plugin=protoc-gen-grpc=${TUTTI_GRPC_CPP_PLUGIN} ${_remote_dir}/protocol.proto
    DEPENDS ${_remote_dir}/protocol.proto protobuf::protoc
    COMMENT "Generating the remote worker protocol (protoc + grpc_cpp_plugin)")
  file(GLOB _remote_srcs CONFIGURE_DEPENDS ${_remote_dir}/grpc/*.cc)
  # Generated code is not ours to warn about.
  set_source_files_properties(${_proto_srcs} PROPERTIES COMPILE_OPTIONS "-w")
  target_sources(tutti PRIVATE ${_remote_srcs} ${_proto_srcs})
  target_include_directories(tutti PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/generated)
  target_link_libraries(tutti PRIVATE gRPC::grpc++)
  target_compile_definitions(tutti PUBLIC TUTTI_WITH_REMOTE=1)
  message(STATUS "tutti: remote workers over gRPC ${gRPC_VERSION}")
else()
  file(GLOB _remote_srcs CONFIGURE_DEPENDS ${_remote_dir}/disabled/*.cc)
  target_sources(tutti PRIVATE ${_remote_srcs})
  message(STATUS "tutti: no gRPC found, remote workers disabled (apt-get install libgrpc++-dev protobuf-compiler-grpc)")
endif()

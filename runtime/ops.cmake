# The op registry: each op family source and the ops it defines. Adding an op is adding
# its definition to a family file (or a new file here) and one edgert_add_op() line.
set(EDGERT_OP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/unary.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/binary.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/conv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/conv_transpose.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/pool.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/gemm.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/norm.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/softmax.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/reduce.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/shape.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/transpose.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/concat_split.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/slice_gather.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/pad.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/resize.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/fused_elementwise.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/quantize_linear.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/qconv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ops/elementwise_ops.cpp)

# unary.cpp
foreach(op Relu LeakyRelu Elu Celu ThresholdedRelu Selu HardSigmoid HardSwish Shrink Gelu Sigmoid
           Tanh Softplus Softsign Erf Exp Log Sqrt Reciprocal Floor Ceil Round Sin Cos Tan Asin Acos
           Atan Sinh Cosh Asinh Acosh Atanh Abs Neg Sign Not Identity Dropout Clip)
  edgert_add_op(${op})
endforeach()
# binary.cpp
foreach(op Add Sub Mul Div Mod Pow Equal Less Greater LessOrEqual GreaterOrEqual And Or Xor PRelu
           Max Min Sum Mean Where)
  edgert_add_op(${op})
endforeach()
edgert_add_op(Conv)                     # conv.cpp
edgert_add_op(ConvTranspose)            # conv_transpose.cpp
foreach(op MaxPool AveragePool GlobalMaxPool GlobalAveragePool)  # pool.cpp
  edgert_add_op(${op})
endforeach()
edgert_add_op(Gemm)                     # gemm.cpp
edgert_add_op(MatMul)
foreach(op BatchNormalization InstanceNormalization LayerNormalization)  # norm.cpp
  edgert_add_op(${op})
endforeach()
foreach(op Softmax LogSoftmax Hardmax)  # softmax.cpp
  edgert_add_op(${op})
endforeach()
foreach(op ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceSumSquare ReduceL1 ReduceL2
           ReduceLogSum ReduceLogSumExp ArgMax ArgMin TopK)  # reduce.cpp
  edgert_add_op(${op})
endforeach()
foreach(op Reshape Flatten Squeeze Unsqueeze Shape Size Expand Tile ConstantOfShape Range Cast
           CastLike)  # shape.cpp
  edgert_add_op(${op})
endforeach()
foreach(op Transpose DepthToSpace SpaceToDepth)  # transpose.cpp
  edgert_add_op(${op})
endforeach()
edgert_add_op(Concat)                   # concat_split.cpp
edgert_add_op(Split)
edgert_add_op(Slice)                    # slice_gather.cpp
edgert_add_op(Gather)
edgert_add_op(GatherElements)
edgert_add_op(Pad)                      # pad.cpp
edgert_add_op(Resize)                   # resize.cpp
edgert_add_op(QuantizeLinear)           # quantize_linear.cpp
edgert_add_op(DequantizeLinear)
# Internal ops: made by builder passes only (not importable from ONNX, not listed).
edgert_add_op(EdgertElementwise)        # fused_elementwise.cpp
edgert_add_op(EdgertQConv)              # qconv.cpp

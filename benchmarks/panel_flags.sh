# The sweep issue's H200 panel and its shortened flags, sourced by gpu_panel.sh and device_session.sh
# (gpu_panel.sh's header explains each choice).
MODELS=(
  resnet50.a1_in1k
  vit_base_patch16_224.augreg2_in21k_ft_in1k
  mobilenetv4_conv_small.e2400_r224_in1k
  efficientvit_b2.r224_in1k
  convnext_base.fb_in22k_ft_in1k
  vgg16.tv_in1k
)
COMMON=(--meter nvml --warmup 1s --min-window 2s --min-iters 13 --idle 1s --latency-budget 50ms --timeout 4min --json)
EAGER=(--runtime torch-fp32 --start-batch 16 --max-batch 4096)
COMPILED=(--runtime compile-fp16 --start-batch 512 --max-batch 1024)

"""Tests for chat-template SSTI analysis: real-world templates stay clean, payloads are caught.

The benign templates below are written for these tests in the style of the published chat
templates of each model family (tools, namespace, raise_exception, tojson, string methods).
"""

from __future__ import annotations

import pytest

from mlwarden.findings import Confidence
from mlwarden.scan import chat_template
from mlwarden.scan.chat_template import analyse_template, dangerous_name, lexical_issues
from mlwarden.scan.template_eval import ConstEvaluator

# ruff: noqa: E501 - templates are kept on their natural long lines

LLAMA31 = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
            {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

LLAMA3 = """{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"""

QWEN25 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

MISTRAL = """{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\\n\\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
"""

GEMMA = """{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"""

CHATML = """{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"""

PHI3 = """{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"""

DEEPSEEK_R1 = """{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.system_prompt + '\\n\\n' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and 'tool_calls' in message %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls'] %}{%- if not ns.is_first %}{%- if message['content'] is none %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- endif %}{%- set ns.is_first = true -%}{%- else %}{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- endif %}{%- endfor %}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- if message['role'] == 'assistant' and 'tool_calls' not in message %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"""

HF_GENERATION = """{% for message in messages %}{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'].strip() + eos_token }}{% endgeneration %}{% else %}{{ message['content'].lstrip().rstrip() }}{% if message['content'].startswith('/') or message['content'].endswith('?') %}{% break %}{% endif %}{% endif %}{% endfor %}"""

CODE_SYSTEM_PROMPT = """{% set default_system = 'You are a Python tutor. Explain that class Foo: def __init__(self): ... runs on construction, and __class__ names the type.' %}{% for message in messages %}{% if loop.first and message['role'] != 'system' %}{{ '<|system|>' + default_system + '<|end|>' }}{% endif %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}{% endfor %}
Example in docs: obj.__class__.__name__ and {{ '{' }}name{{ '}' }} braces."""

BENIGN_TEMPLATES: dict[str, str] = {
    "llama3.1": LLAMA31,
    "llama3": LLAMA3,
    "qwen2.5": QWEN25,
    "mistral": MISTRAL,
    "gemma": GEMMA,
    "chatml": CHATML,
    "phi3": PHI3,
    "deepseek-r1": DEEPSEEK_R1,
    "hf-generation": HF_GENERATION,
    "code-prompt": CODE_SYSTEM_PROMPT,
}


MALICIOUS_TEMPLATES = {
    "dunder-chain": "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}",
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "attr-concat": "{{ x|attr('__cla' ~ 'ss__') }}",
    "attr-mul-var": "{% set a = '_'*2 %}{{ x|attr(a ~ 'class' ~ a) }}",
    "attr-join": "{{ x|attr(['__','class__']|join) }}",
    "attr-format-c": "{{ x|attr('%c%cclass%c%c'|format(95,95,95,95)) }}",
    "attr-reverse": "{{ x|attr('__ssalc__'|reverse) }}",
    "attr-slice": "{{ x|attr('__ssalc__'[::-1]) }}",
    "attr-hex-escape": "{{ x|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "subscript-unicode-escape": "{{ x['\\u005f\\u005fclass\\u005f\\u005f'] }}",
    "attr-lower": "{{ x|attr('__CLASS__'|lower) }}",
    "attr-replace": "{{ x|attr('xxclassxx'|replace('x', '_')) }}",
    "attr-method-join": "{{ x|attr(''.join(['_', '_', 'globals', '_', '_'])) }}",
    "cycler": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "joiner": "{{ joiner.__init__.__globals__ }}",
    "namespace-init": "{{ namespace.__init__.__globals__ }}",
    "lipsum": "{{ lipsum.__globals__['os'].popen('id') }}",
    "template-reference": "{{ self._TemplateReference__context.cycler }}",
    "config": "{{ config.items() }}",
    "request": "{{ request.application }}",
    "url-for": "{{ url_for.__globals__ }}",
    "flashed": "{{ get_flashed_messages.__globals__ }}",
    "for-loop": "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "loop-built-name": "{% set ns = namespace(s='') %}{% for c in ['_','_','class','_','_'] %}{% set ns.s = ns.s ~ c %}{% endfor %}{{ x|attr(ns.s) }}",
    "map-attribute": "{{ x|map(attribute='__class__')|list }}",
    "selectattr": "{{ messages|selectattr('__class__')|list }}",
    "dict-keyword": "{{ x|attr(dict(__class__=1)|join) }}",
    "char-picking": "{{ (()|select|string)[24] }}",
    "str-format": "{{ '{0.__class__}'.format(x) }}",
    "os-system": "{{ x.os.system('id') }}",
    "eval-call": "{{ eval('1') }}",
    "ns-attr-set": "{% set ns = namespace() %}{% set ns.n = '__globals__' %}{{ x[ns.n] }}",
    "cond-built": "{% set a = '__cl' if y else '__' %}{{ x|attr(a ~ 'ass__') }}",
    "hidden-in-benign": "{% for message in messages %}{{ '<|im_start|>' + message['role'] }}{% if message.role == 'tool' %}{{ message|attr('_'*2 ~ 'init' ~ '_'*2) }}{% endif %}{% endfor %}",
}


@pytest.mark.parametrize("name", sorted(BENIGN_TEMPLATES))
@pytest.mark.parametrize("use_jinja", [True, False], ids=["ast", "lexical"])
def test_benign_templates_are_clean(name: str, use_jinja: bool) -> None:
    assert analyse_template(BENIGN_TEMPLATES[name], use_jinja=use_jinja) == []


@pytest.mark.parametrize("name", sorted(MALICIOUS_TEMPLATES))
def test_malicious_templates_are_caught_from_the_ast(name: str) -> None:
    issues = analyse_template(MALICIOUS_TEMPLATES[name])
    assert issues
    assert {i.kind for i in issues} == {"injection"}
    assert all(i.confidence is Confidence.HIGH for i in issues)


@pytest.mark.parametrize("name", sorted(MALICIOUS_TEMPLATES))
def test_malicious_templates_are_caught_lexically(name: str) -> None:
    issues = analyse_template(MALICIOUS_TEMPLATES[name], use_jinja=False)
    assert issues
    assert all(i.confidence is Confidence.MEDIUM for i in issues)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("attr-concat", "'__class__'"),
        ("attr-format-c", "'__class__'"),
        ("attr-slice", "'__class__'"),
        ("attr-hex-escape", "'__class__'"),
        ("attr-replace", "'__class__'"),
        ("attr-method-join", "'__globals__'"),
        ("lipsum", "'__globals__'"),
        ("template-reference", "'_TemplateReference__context'"),
        ("config", "gadget config.items"),
        ("loop-built-name", "computed"),
        ("char-picking", "picks characters"),
        ("str-format", "str.format"),
        ("eval-call", "calls eval()"),
        ("ns-attr-set", "'__globals__'"),
        ("hidden-in-benign", "'__init__'"),
    ],
)
def test_ast_messages_name_what_was_built(name: str, needle: str) -> None:
    evidence = " | ".join(i.evidence for i in analyse_template(MALICIOUS_TEMPLATES[name]))
    assert needle in evidence
    assert evidence.startswith("line 1:")


def test_name_written_in_a_single_literal_is_not_called_built() -> None:
    template = "{% set tip = 'Python runs __init__ first' %}{{ '<s>' ~ tip ~ '</s>' }}"
    assert analyse_template(template) == []


def test_command_method_names_are_flagged_only_when_called() -> None:
    benign = "{% set ns = namespace(system='') %}{% set ns.system = 'x' %}{{ ns.system }}"
    assert analyse_template(benign) == []
    for payload in ("{{ x.system('id') }}", "{{ x['popen']('id') }}", "{{ x|attr('popen') }}"):
        assert analyse_template(payload), payload


def test_template_defined_names_shadow_gadgets() -> None:
    template = "{% set config = {'sep': '\\n'} %}{{ config.sep }}{% set self = 1 %}{{ self.real }}"
    assert analyse_template(template) == []


def test_unparsable_template_reports_and_falls_back_to_lexical() -> None:
    broken = "{% if x %}{{ x.__class__ }}"
    issues = analyse_template(broken)
    assert issues[0].kind == "unparsable"
    assert "does not parse" in issues[0].message
    assert any(i.kind == "injection" for i in issues[1:])


def test_unparsable_benign_template_has_only_the_parse_issue() -> None:
    issues = analyse_template("{% for m in messages %}{{ m.content }}")
    assert [i.kind for i in issues] == ["unparsable"]


def test_deeply_nested_template_does_not_crash() -> None:
    nested = "{{ " + "(" * 5000 + "x" + ")" * 5000 + " }}"
    assert [i.kind for i in analyse_template(nested)] == ["unparsable"]


def test_oversized_template_is_checked_lexically(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_template, "MAX_PARSE_CHARS", 100)
    big = "{{ x.__class__ }}" + "a" * 200
    kinds = [i.kind for i in analyse_template(big)]
    assert kinds[0] == "unparsable"
    assert "injection" in kinds


def test_without_jinja2_the_lexical_pass_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_template, "_jinja_env", lambda: None)
    issues = analyse_template(MALICIOUS_TEMPLATES["attr-concat"])
    assert issues
    assert issues[0].confidence is Confidence.MEDIUM
    assert analyse_template(BENIGN_TEMPLATES["qwen2.5"]) == []


def test_lexical_pass_ignores_text_outside_blocks_and_is_linear() -> None:
    assert lexical_issues("Docs: obj.__class__ and '_'*2 and %c {{ name }}") == []
    hostile = "{{" * 200_000
    lexical_issues(hostile)


def test_issue_count_is_capped() -> None:
    template = "".join(f"{{{{ x.__a{i}__ }}}}\n" for i in range(50))
    assert len(analyse_template(template)) == 10


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("__class__", True),
        ("a._private", True),
        ("popen", False),  # flagged where it is called, not as a name
        ("x.mro", True),
        ("f_globals", True),
        ("content", False),
        ("function.name", False),
    ],
)
def test_dangerous_name(name: str, expected: bool) -> None:
    assert dangerous_name(name) is expected


def _expr(source: str) -> object:
    from jinja2 import Environment

    template = Environment(autoescape=True).parse("{{ " + source + " }}")
    return template.body[0].nodes[0]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("'a' ~ 'b'", ["ab"]),
        ("'_' * 3", ["___"]),
        ("'%s-%s' % ('a', 'b')", ["a-b"]),
        ("['x', 'y'] | join('+')", ["x+y"]),
        ("'abc'[::-1]", ["cba"]),
        ("'abc'[1]", ["b"]),
        ("'AbC' | lower | upper", ["ABC"]),
        ("'a,b'.replace(',', '_')", ["a_b"]),
        ("('p' if c else 'q') ~ '!'", ["p!", "q!"]),
    ],
)
def test_const_evaluator_computes_values(source: str, expected: list[str]) -> None:
    assert ConstEvaluator({}).values(_expr(source)) == expected


@pytest.mark.parametrize(
    "source",
    [
        "message.content",
        "'_' * 1000000000",
        "'%999999999s' | format(1)",
        "'%*s' | format(99999, 1)",
        "'{0}'.format(x)",
        "loop.index0 ~ 'x'",
    ],
)
def test_const_evaluator_refuses_unknown_or_huge_values(source: str) -> None:
    assert ConstEvaluator({}).values(_expr(source)) is None
